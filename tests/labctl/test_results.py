"""`labctl results` and `labctl report`: summary.json and report.html from the experiment's S3 location."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from activities.contracts import ExperimentRef
from activities.results.contracts import CriterionResult
from activities.results.metrics_snapshot import DataPoint, MetricsSnapshot, QueryResult, TargetMetrics, TimeWindow
from activities.results.summary_json import build_summary
from api.experiment import ExperimentSpec, ExperimentStatus
from api.names import Identity, results_prefix
from labctl.seaweedfs import S3Endpoint
from tests.labctl.conftest import Gateway, experiment_file

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def s3_env(s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> S3Endpoint:
    """What `labctl lab env` exports."""
    monkeypatch.setenv("S3_ENDPOINT", s3_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    return s3_server


def finished(gateway: Gateway, tmp_path: Path, namespace: str, bucket: str) -> str:
    name = gateway.create(experiment_file(tmp_path, namespace))
    gateway.patch_status(name, {"phase": "Complete", "resultsURL": f"s3://{bucket}/{name}/"})
    return name


def producer_summary(name: str, tmp_path: Path, namespace: str) -> dict[str, Any]:
    """A summary.json as the results activity writes it (activities/results/summary_json.py)."""
    body = yaml.safe_load(experiment_file(tmp_path, namespace).read_text())
    spec = ExperimentSpec.model_validate(body["spec"])

    def query(values: list[float], kind: str = "range") -> QueryResult:
        points = [DataPoint(timestamp=T0 + timedelta(seconds=15 * i), value=v) for i, v in enumerate(values)]
        return QueryResult(query="sum(rate(x[1m]))", type=kind, unit="cores", data=points)

    window = TimeWindow(start=T0, end=T0 + timedelta(minutes=5), duration="5m", step_seconds=15)
    snapshot = MetricsSnapshot.merge(
        T0 + timedelta(minutes=5),
        window,
        {
            "app": TargetMetrics(queries={"cpu_total": query([0.1, 0.3]), "memory_total": query([2e8], "instant")}),
            "loadgen": TargetMetrics(queries={"cpu_total": query([0.4, 0.6])}),
        },
    )
    ref = ExperimentRef(namespace=namespace, name=name, uid="u-1", creation_timestamp=T0)
    criteria = [CriterionResult(metric="cpu_total", operator="lt", threshold="0.5", actual=0.35, passed=True)]
    status = ExperimentStatus(phase="Complete", completed_at=T0 + timedelta(minutes=5))
    return build_summary(
        experiment=ref,
        spec=spec,
        status=status,
        snapshot=snapshot,
        criteria=criteria,
        workflow_id="wf",
        workflow_run_id="run",
        now=T0 + timedelta(minutes=5),
    )


def test_results_prints_metrics_per_target_criteria_and_verdict(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    name = finished(gateway, tmp_path, kube_namespace, s3_bucket)
    summary = producer_summary(name, tmp_path, kube_namespace)
    s3_env.client().put_object(Bucket=s3_bucket, Key=f"{name}/summary.json", Body=json.dumps(summary).encode())

    result = labctl("results", name, "-n", kube_namespace)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    metrics = lines[lines.index("Metrics (value of an instant query, mean of a range query):") + 1 :]
    assert metrics[0].split() == ["METRIC", "TYPE", "UNIT", "app", "loadgen"]
    assert metrics[1].split() == ["cpu_total", "range", "cores", "0.2", "0.5"]
    assert metrics[2].split() == ["memory_total", "instant", "cores", "2e+08", "no", "data"]
    criteria = lines[lines.index("Success criteria:") + 1 :]
    assert criteria[0].split() == ["METRIC", "OPERATOR", "THRESHOLD", "ACTUAL", "PASSED"]
    assert criteria[1].split() == ["cpu_total", "lt", "0.5", "0.35", "yes"]
    assert "Claim:   the app answers fast" in lines
    assert lines[-1].startswith("Verdict: validated")


def test_results_reads_an_original_summary_with_only_merged_queries(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    name = finished(gateway, tmp_path, kube_namespace, s3_bucket)
    summary = {
        "name": name,
        "phase": "Complete",
        "metrics": {
            "queries": {
                "cpu_total": {
                    "query": "q",
                    "type": "range",
                    "unit": "cores",
                    "data": [
                        {"timestamp": "t", "value": 1.0},
                        {"timestamp": "t", "value": 2.0},
                    ],
                },
                "broken": {"query": "q", "type": "instant", "error": "bad_data: parse error"},
            }
        },
        "hypothesis": {
            "claim": "c",
            "successCriteria": [
                {"metric": "cpu_total", "operator": "gt", "value": "2", "passed": False, "actualValue": "1.5"}
            ],
            "machineVerdict": "invalidated",
        },
    }
    s3_env.client().put_object(Bucket=s3_bucket, Key=f"{name}/summary.json", Body=json.dumps(summary).encode())

    result = labctl("results", name, "-n", kube_namespace)

    assert result.code == 0, result.err
    assert "cpu_total   range     cores   1.5" in result.out
    assert "broken      instant   -       error: bad_data: parse error" in result.out
    assert "cpu_total   gt         2           1.5      no" in result.out
    assert result.out.splitlines()[-1] == "Verdict: invalidated"


def test_results_not_written_yet_is_one_line(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    name = finished(gateway, tmp_path, kube_namespace, s3_bucket)

    result = labctl("results", name, "-n", kube_namespace)

    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"labctl results: summary.json is not there yet: s3://{s3_bucket}/{name}/summary.json does not exist\n"
    )


def test_results_of_an_experiment_without_results_url_says_why(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, s3_env: S3Endpoint
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))

    result = labctl("results", name, "-n", kube_namespace)

    assert result.code == 2
    assert result.err == (
        f"labctl results: experiment {name} has no results: status.resultsURL is not set yet (phase Pending)\n"
    )


def test_results_json_is_the_summary(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    name = finished(gateway, tmp_path, kube_namespace, s3_bucket)
    s3_env.client().put_object(Bucket=s3_bucket, Key=f"{name}/summary.json", Body=b'{"name": "x"}')

    result = labctl("results", name, "-n", kube_namespace, "-o", "json")

    assert json.loads(result.out) == {"name": "x"}


def test_report_downloads_the_html_and_prints_its_path(
    labctl: Any,
    gateway: Gateway,
    kube_namespace: str,
    tmp_path: Path,
    s3_env: S3Endpoint,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = finished(gateway, tmp_path, kube_namespace, s3_bucket)
    s3_env.client().put_object(Bucket=s3_bucket, Key=f"{name}/report.html", Body=b"<html>report</html>")
    monkeypatch.chdir(tmp_path)

    default = labctl("report", name, "-n", kube_namespace)
    chosen = labctl("report", name, "-n", kube_namespace, "-o", str(tmp_path / "r.html"))

    assert default.code == 0, default.err
    assert Path(default.out.strip()) == tmp_path / f"{name}-report.html"
    assert (tmp_path / f"{name}-report.html").read_text() == "<html>report</html>"
    assert chosen.out.strip() == str(tmp_path / "r.html")
    assert stat.S_ISREG((tmp_path / "r.html").stat().st_mode)


def test_report_not_written_yet_is_one_line(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    name = finished(gateway, tmp_path, kube_namespace, s3_bucket)

    result = labctl("report", name, "-n", kube_namespace, "-o", str(tmp_path / "r.html"))

    assert result.code == 2
    assert result.err.count("\n") == 1 and "the report is not there yet" in result.err
    assert not (tmp_path / "r.html").exists()


def test_results_without_an_s3_endpoint_says_how_to_get_one(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3_ENDPOINT", raising=False)
    name = finished(gateway, tmp_path, kube_namespace, "experiment-results")

    result = labctl("results", name, "-n", kube_namespace)

    assert result.code == 2
    assert "no S3 endpoint: pass --s3-endpoint or set S3_ENDPOINT" in result.err


@pytest.mark.parametrize("url_has_prefix", [True, False], ids=["resultsURL", "bucket-only-url"])
def test_results_of_a_recreated_experiment_read_its_own_prefix_not_the_earlier_runs(
    labctl: Any,
    gateway: Gateway,
    kube_namespace: str,
    tmp_path: Path,
    s3_env: S3Endpoint,
    s3_bucket: str,
    url_has_prefix: bool,
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))
    meta = gateway.get(name)["metadata"]
    own = results_prefix(Identity(kube_namespace, name, meta["uid"]))
    earlier = results_prefix(Identity(kube_namespace, name, "an-earlier-object-of-the-same-name"))
    for prefix, marker in ((earlier, "earlier"), (own, "own")):
        s3_env.client().put_object(
            Bucket=s3_bucket, Key=f"{prefix}summary.json", Body=json.dumps({"run": marker}).encode()
        )
    url = f"s3://{s3_bucket}/{own}" if url_has_prefix else f"s3://{s3_bucket}/"
    gateway.patch_status(name, {"phase": "Complete", "resultsURL": url})

    result = labctl("results", name, "-n", kube_namespace, "-o", "json")

    assert result.code == 0, result.err
    assert json.loads(result.out) == {"run": "own"}
