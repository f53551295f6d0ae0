"""The S3, VictoriaMetrics and Prometheus fixtures are real servers that store and answer what they are given."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.fixtures.metrics import (
    SEED_END,
    SEED_EXPERIMENT,
    SEED_MEMORY_BYTES,
    SEED_SERIES,
    SEED_START,
    Prometheus,
    VictoriaMetrics,
    unix_seconds,
)
from tests.fixtures.storage import S3Endpoint, SeaweedFS

MiB = 1024 * 1024


def _error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_seaweedfs_round_trips_objects(s3_server: S3Endpoint, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="runs/1/result.json", Body=b'{"p99": 0.25}', ContentType="application/json")
    client.put_object(Bucket=s3_bucket, Key="runs/2/result.json", Body=b"{}")
    client.put_object(Bucket=s3_bucket, Key="other.txt", Body=b"x")

    got = client.get_object(Bucket=s3_bucket, Key="runs/1/result.json")
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="runs/")

    assert got["Body"].read() == b'{"p99": 0.25}'
    assert got["ContentType"] == "application/json"
    assert [o["Key"] for o in listed["Contents"]] == ["runs/1/result.json", "runs/2/result.json"]


def test_seaweedfs_assembles_multipart_uploads(s3_server: S3Endpoint, s3_bucket: str) -> None:
    client = s3_server.client()
    parts = [os.urandom(5 * MiB), os.urandom(3 * MiB + 17)]  # every part but the last must be >= 5 MiB
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key="big.bin")
    etags = [
        client.upload_part(Bucket=s3_bucket, Key="big.bin", UploadId=upload["UploadId"], PartNumber=n, Body=part)
        for n, part in enumerate(parts, start=1)
    ]
    client.complete_multipart_upload(
        Bucket=s3_bucket,
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e["ETag"]} for n, e in enumerate(etags, start=1)]},
    )

    body = client.get_object(Bucket=s3_bucket, Key="big.bin")["Body"].read()

    assert len(body) == 8 * MiB + 17
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(parts)).digest()


def test_seaweedfs_reports_a_missing_key_as_no_such_key(s3_server: S3Endpoint, s3_bucket: str) -> None:
    with pytest.raises(ClientError) as error:
        s3_server.client().get_object(Bucket=s3_bucket, Key="never-written")

    assert _error_code(error) == "NoSuchKey"


def test_seaweedfs_keeps_buckets_isolated(s3_server: S3Endpoint, s3_bucket: str) -> None:
    client = s3_server.client()
    other = f"other-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=other)
    try:
        assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0  # a fresh bucket per test
        client.put_object(Bucket=s3_bucket, Key="mine", Body=b"1")

        assert client.list_objects_v2(Bucket=other).get("KeyCount") == 0
        with pytest.raises(ClientError) as error:
            client.get_object(Bucket=other, Key="mine")
        assert _error_code(error) == "NoSuchKey"
    finally:
        client.delete_bucket(Bucket=other)


def test_seaweedfs_rejects_a_wrong_secret(s3_server: S3Endpoint, s3_bucket: str) -> None:
    intruder = S3Endpoint(s3_server.url, s3_server.access_key, "not-the-secret", s3_server.region)

    with pytest.raises(ClientError) as error:
        intruder.client(retries=1).list_objects_v2(Bucket=s3_bucket)

    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_seaweedfs_keeps_objects_across_a_restart(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    seaweedfs.endpoint.client().put_object(Bucket=s3_bucket, Key="durable", Body=b"still here")

    with seaweedfs.down(kill=True), pytest.raises(EndpointConnectionError):
        seaweedfs.endpoint.client(retries=1, timeout=1).list_buckets()

    body = seaweedfs.endpoint.client().get_object(Bucket=s3_bucket, Key="durable")["Body"].read()
    assert body == b"still here"


def _labels(test: str) -> dict[str, str]:
    return {"experiment": f"{test}-{uuid.uuid4().hex[:8]}", "pod": "bench-0"}


def test_victoria_metrics_answers_an_instant_query_with_imported_values(victoria_metrics: VictoriaMetrics) -> None:
    labels = _labels("instant")
    now = datetime.now(UTC).replace(microsecond=0)
    victoria_metrics.import_series("lab_cpu_seconds", labels, [(now - timedelta(minutes=1), 1.5), (now, 2.5)])

    latest = victoria_metrics.query(f'lab_cpu_seconds{{experiment="{labels["experiment"]}"}}')
    earlier = victoria_metrics.query(
        f'lab_cpu_seconds{{experiment="{labels["experiment"]}"}}', at=now - timedelta(seconds=30)
    )

    assert [(r["metric"], float(r["value"][1])) for r in latest] == [({"__name__": "lab_cpu_seconds", **labels}, 2.5)]
    assert float(earlier[0]["value"][1]) == 1.5


def test_victoria_metrics_answers_a_range_query_with_imported_points(victoria_metrics: VictoriaMetrics) -> None:
    labels = _labels("range")
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    points = [(start + timedelta(minutes=i), float(i * i)) for i in range(10)]
    victoria_metrics.import_series("lab_queue_depth", labels, points)

    result = victoria_metrics.query_range(
        f'lab_queue_depth{{experiment="{labels["experiment"]}"}}', start, points[-1][0], step=60
    )

    assert len(result) == 1
    assert [(t, float(v)) for t, v in result[0]["values"]] == [(unix_seconds(at), value) for at, value in points]


def test_prometheus_answers_with_the_seeded_values(prometheus: Prometheus) -> None:
    selector = f'experiment="{SEED_EXPERIMENT}"'

    rate = prometheus.query(f"sum(rate(bench_requests_total{{{selector}}}[5m]))", at=SEED_END)
    latency = prometheus.query(f"bench_latency_p99_seconds{{{selector}}}", at=SEED_END)
    memory = prometheus.query(f"container_memory_working_set_bytes{{{selector}}}", at=SEED_END)

    assert float(rate[0]["value"][1]) == pytest.approx(3.0)
    assert [float(r["value"][1]) for r in latency] == [0.25]
    assert float(memory[0]["value"][1]) == SEED_MEMORY_BYTES


def test_prometheus_range_query_returns_every_seeded_point(prometheus: Prometheus) -> None:
    seeded = {tuple(sorted(s.labels.items())): s for s in SEED_SERIES if s.name == "bench_requests_total"}

    result = prometheus.query_range("bench_requests_total", SEED_START, SEED_END, step=60)

    assert len(result) == len(seeded)
    for series in result:
        expected = seeded[tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))]
        assert [(t, float(v)) for t, v in series["values"]] == [(unix_seconds(t), v) for t, v in expected.points]


def test_prometheus_rejects_bad_promql_with_http_400(prometheus: Prometheus) -> None:
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": "sum(rate(bench_requests_total[5m])"})

    assert response.status_code == 400
    assert response.json()["errorType"] == "bad_data"


def test_prometheus_accepts_remote_written_samples_older_than_the_newest(prometheus: Prometheus) -> None:
    labels = _labels("remote-write")
    now = datetime.now(UTC).replace(microsecond=0)
    prometheus.remote_write("lab_rps", labels, [(now, 42.0)])
    prometheus.remote_write("lab_rps", labels, [(now - timedelta(days=2), 7.0)])  # out of order, inside 30d

    selector = f'lab_rps{{experiment="{labels["experiment"]}"}}'
    assert float(prometheus.query(selector, at=now)[0]["value"][1]) == 42.0
    assert float(prometheus.query(selector, at=now - timedelta(days=2))[0]["value"][1]) == 7.0
