"""Metrics collection: variables, windows, default queries, PromQL client behaviour, per-target discovery."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import certifi
import httpx
import pytest

from activities.results.metrics_collection import (
    MetricsCollector,
    default_queries,
    duration_variable,
    resolve,
    substitute,
    time_window,
)
from activities.results.metrics_snapshot import TimeWindow
from activities.results.promql_client import PromQLClient, ResolvedQuery
from activities.tls import default_tls, kubeconfig_tls
from api.base import format_duration
from api.experiment import MetricType
from tests.fakes.http import LoopbackServer, Request, Response
from tests.fakes.kube_proxy import FakeKubeApi, FakeService, serve
from tests.fixtures.metrics import Prometheus, VictoriaMetrics
from tests.results.conftest import comparison_spec, make_settings

on_session_loop = pytest.mark.asyncio(loop_scope="session")
VARS = {"EXPERIMENT": "gw-abc", "NAMESPACE": "experiments", "DURATION": "5m"}


def test_substitutes_plain_and_braced_variables() -> None:
    query = 'rate(x{experiment="$EXPERIMENT",ns="${NAMESPACE}"}[${DURATION}]) + y[$DURATION] $EXPERIMENT'
    assert substitute(query, VARS) == 'rate(x{experiment="gw-abc",ns="experiments"}[5m]) + y[5m] gw-abc'


def test_query_without_variables_is_unchanged() -> None:
    assert substitute("up", VARS) == "up"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (45, "45s"),
        (900, "15m"),
        (7200, "2h"),
        (9000, "2h30m"),
        (3910, "1h5m10s"),
        (-90, "1m30s"),
    ],
)
def test_prometheus_duration_text(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_window_rules_match_the_original() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert time_window(start, start + timedelta(seconds=29)) is None
    assert time_window(start, start + timedelta(minutes=4)).step_seconds == 15
    assert time_window(start, start + timedelta(minutes=30)).step_seconds == 60
    assert time_window(start, start + timedelta(hours=2)).step_seconds == 300


def test_duration_shrinks_with_each_quality_gate_iteration() -> None:
    run = timedelta(minutes=42)
    assert [duration_variable(i, run) for i in range(5)] == ["42m", "10m", "5m", "2m", "2m"]


def test_four_default_queries_hub_ones_filter_on_the_experiment() -> None:
    hub, target = default_queries(hub=True), default_queries(hub=False)
    assert [q.name for q in hub] == ["cpu_by_pod", "memory_by_pod", "cpu_total", "memory_total"]
    assert all(q.type == MetricType.RANGE for q in hub + target)
    assert all('experiment="gw-abc"' in q.promql for q in resolve(hub, VARS))
    assert not any("experiment=" in q.query for q in target)


def _window(minutes: float = 10) -> TimeWindow:
    now = datetime.now(UTC)
    window = time_window(now - timedelta(minutes=minutes), now)
    assert window is not None
    return window


@on_session_loop
async def test_nan_and_infinite_samples_are_dropped() -> None:
    payload = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"pod": "a"}, "values": [[1, "1.5"], [2, "NaN"], [3, "+Inf"], [4, "-Inf"], [5, "2"]]}
            ],
        },
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=payload))
    async with httpx.AsyncClient(transport=transport) as http:
        client = PromQLClient(http, "http://prom", timeout=1, attempts=1, parallelism=1)
        result = await client.run(ResolvedQuery("q", "x", MetricType.RANGE), _window(), "test")
    assert [p.value for p in result.data or []] == [1.5, 2.0]


@on_session_loop
async def test_server_errors_are_retried_then_recorded_on_the_query() -> None:
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky)) as http:
        client = PromQLClient(http, "http://prom", timeout=1, attempts=2, parallelism=1, retry_delay=0)
        ok = await client.run(ResolvedQuery("q", "x", MetricType.INSTANT), _window(), "test")
    assert ok.error is None and len(calls) == 2

    always = httpx.MockTransport(lambda request: httpx.Response(400, json={"status": "error", "error": "bad PromQL"}))
    async with httpx.AsyncClient(transport=always) as http:
        client = PromQLClient(http, "http://prom", timeout=1, attempts=3, parallelism=1, retry_delay=0)
        bad = await client.run(ResolvedQuery("q", "x(", MetricType.INSTANT), _window(), "test")
    assert bad.error == "HTTP 400: bad PromQL" and bad.data is None


@on_session_loop
async def test_a_hanging_endpoint_times_out_per_query() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as http:
        client = PromQLClient(http, "http://prom", timeout=0.1, attempts=2, parallelism=1, retry_delay=0)
        result = await client.run(ResolvedQuery("q", "x", MetricType.INSTANT), _window(), "test")
    assert result.error is not None and "ReadTimeout" in result.error


def _seed_recent(
    store: Prometheus | VictoriaMetrics, experiment: str, rps: float, p99: float, pod: str, namespace: str = ""
) -> None:
    """Series of one experiment; ``namespace`` is where its workloads run (default: the experiment's name)."""
    now = time.time()
    points = [(now - 60 * i, 0.0) for i in range(8, 0, -1)]
    rps_points = [(t, rps) for t, _ in points]
    p99_points = [(t, p99 + i * 0.01) for i, (t, _) in enumerate(points)]
    labels = {"experiment": experiment, "namespace": namespace or experiment, "pod": pod}
    if isinstance(store, VictoriaMetrics):
        store.import_series("bench_rps", labels, rps_points)
        store.import_series("bench_p99", labels, p99_points)
    else:
        store.remote_write("bench_rps", labels, rps_points)
        store.remote_write("bench_p99", labels, p99_points)


@pytest.fixture
def two_target_api(prometheus: Prometheus, victoria_metrics: VictoriaMetrics) -> Iterator[tuple[FakeKubeApi, str]]:
    """app: kube-prometheus-stack in ``monitoring``; loadgen: VictoriaMetrics in the experiment namespace."""
    api = FakeKubeApi(
        services=[
            FakeService("monitoring", "kube-prometheus-stack-operator", [443]),
            FakeService("monitoring", "kube-prometheus-stack-prometheus", [9090, 8080], upstream=prometheus.url),
        ]
    )
    with serve(api) as server:
        yield api, server.url


@on_session_loop
async def test_two_targets_keep_their_own_results(
    prometheus: Prometheus, victoria_metrics: VictoriaMetrics, two_target_api: tuple[FakeKubeApi, str]
) -> None:
    experiment = f"gw-{int(time.time() * 1000) % 10**8}"
    _seed_recent(prometheus, experiment, rps=120.0, p99=0.2, pod="gw-0")
    _seed_recent(victoria_metrics, experiment, rps=80.0, p99=0.4, pod="lg-0")
    api, url = two_target_api
    loadgen_api = FakeKubeApi(
        services=[FakeService(experiment, "vmsingle-metrics", [8428], upstream=victoria_metrics.url)]
    )

    with serve(loadgen_api) as loadgen_server:
        kubeconfigs = {"app": api.kubeconfig(url), "loadgen": loadgen_api.kubeconfig(loadgen_server.url)}

        async def kubeconfig(target: str, cluster_type: str, cluster: str) -> str | None:
            return kubeconfigs.get(target)

        now = datetime.now(UTC)
        snapshot = await MetricsCollector(make_settings(), kubeconfig).collect(
            experiment=experiment,
            namespace="experiments",
            workload_namespace=experiment,
            spec=comparison_spec(),
            cluster_names={"app": f"{experiment}-app", "loadgen": f"{experiment}-loadgen"},
            iteration=0,
            created=now - timedelta(minutes=10),
            now=now,
        )
    assert snapshot is not None
    assert snapshot.targets["app"].source == "target:monitoring/kube-prometheus-stack-prometheus"
    assert snapshot.targets["loadgen"].source == f"target:{experiment}/vmsingle-metrics"
    assert snapshot.targets["app"].queries["request_rate"].data[0].value == 120.0  # type: ignore[index]
    assert snapshot.targets["loadgen"].queries["request_rate"].data[0].value == 80.0  # type: ignore[index]
    merged = snapshot.queries["latency_p99"]
    assert {p.labels["target"] for p in merged.data or [] if p.labels} == {"app", "loadgen"}
    assert f'namespace="{experiment}"' in merged.query  # $NAMESPACE on a target is the experiment's namespace
    values = snapshot.representative_values()
    assert values["app/request_rate"] == 120.0 and values["loadgen/request_rate"] == 80.0
    assert values["request_rate"] == pytest.approx(100.0)


@on_session_loop
async def test_target_without_prometheus_falls_back_to_hub_victoria_metrics(
    victoria_metrics: VictoriaMetrics,
) -> None:
    experiment = f"fb-{int(time.time() * 1000) % 10**8}"
    _seed_recent(victoria_metrics, experiment, rps=50.0, p99=0.3, pod="x-0")
    empty = FakeKubeApi(services=[FakeService("default", "grafana", [80])])
    with serve(empty) as server:

        async def kubeconfig(target: str, cluster_type: str, cluster: str) -> str | None:
            return empty.kubeconfig(server.url)

        now = datetime.now(UTC)
        snapshot = await MetricsCollector(make_settings(metrics_url=victoria_metrics.url), kubeconfig).collect(
            experiment=experiment,
            namespace="experiments",
            workload_namespace=experiment,
            spec=comparison_spec(targets=[{"name": "app", "cluster": {"type": "gke"}}]),
            cluster_names={"app": f"{experiment}-app"},
            iteration=0,
            created=now - timedelta(minutes=10),
            now=now,
        )
    assert snapshot is not None
    assert list(snapshot.targets) == ["hub"] and snapshot.source == "hub"
    assert snapshot.queries["request_rate"].source == "hub"
    assert snapshot.queries["request_rate"].data[0].value == 50.0  # type: ignore[index]


def _empty_matrix(request: Request) -> Response:
    """A Prometheus HTTP API that has no series."""
    return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}, {}


@on_session_loop
async def test_hub_queries_reuse_the_connections_of_earlier_collections() -> None:
    with LoopbackServer(_empty_matrix) as hub:
        collector = MetricsCollector(make_settings(metrics_url=hub.url))
        now, first_collection = datetime.now(UTC), 0
        for _ in range(3):
            snapshot = await collector.collect(
                experiment="reuse",
                namespace="experiments",
                workload_namespace="reuse",
                spec=comparison_spec(targets=[{"name": "app", "cluster": {"type": "gke"}}]),
                cluster_names={},
                iteration=0,
                created=now - timedelta(minutes=10),
                now=now,
            )
            assert snapshot is not None and snapshot.source == "hub"
            first_collection = first_collection or len(hub.requests)
        first, every = {r.peer for r in hub.requests[:first_collection]}, {r.peer for r in hub.requests}
    assert len(hub.requests) == 3 * first_collection > 0  # the spec's queries, each time
    assert every == first  # the later collections opened no connection of their own


@on_session_loop
async def test_too_short_a_run_collects_nothing() -> None:
    now = datetime.now(UTC)
    snapshot = await MetricsCollector(make_settings()).collect(
        experiment="x",
        namespace="experiments",
        workload_namespace="x",
        spec=comparison_spec(),
        cluster_names={},
        iteration=0,
        created=now - timedelta(seconds=10),
        now=now,
    )
    assert snapshot is None


def test_one_tls_context_per_trust_setting_and_another_when_the_ca_changes() -> None:
    first_ca, second_ca = re.findall(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", certifi.contents(), re.S
    )[:2]
    context = kubeconfig_tls(first_ca, None, None, False)
    assert kubeconfig_tls(first_ca, None, None, False) is context  # built once, shared by every client
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    rotated = kubeconfig_tls(second_ca, None, None, False)  # the connection Secret's CA changed
    assert rotated is not context
    assert kubeconfig_tls(first_ca, None, None, True).verify_mode == ssl.CERT_NONE
    assert default_tls() is default_tls()
