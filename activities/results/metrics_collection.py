"""Metrics collection: which queries, over which window, against which Prometheus, kept per target.

Rules follow the original (seed §3.4): the ``$DURATION`` window shrinks with each quality-gate
iteration, the step grows with the window, the four default queries apply when ``spec.metrics`` is
empty. Fixed: ``${VAR}`` is substituted as well as ``$VAR`` (bug 18); each target keeps its own
results (bug 19); every request is bounded in time (bug 28). This module only reads metrics; storing
the snapshot is the activity's job (activities/results/pipeline.py).
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

import httpx

from activities.results.metrics_snapshot import MetricsSnapshot, TargetMetrics, TimeWindow
from activities.results.prometheus_discovery import TargetAccess, discover_prometheus
from activities.results.promql_client import PromQLClient, ResolvedQuery
from activities.settings import ResultsSettings
from activities.tls import default_tls
from api.base import format_duration
from api.experiment import ClusterType, ExperimentSpec, MetricsQuery, MetricType
from api.validation import QUERY_VARIABLES

MIN_WINDOW = timedelta(seconds=30)
"""Shorter experiments have no meaningful range; the original skipped collection below this."""
HUB_SOURCE = "hub"
HUB_FALLBACK_KEY = "hub"
"""Where hub-VictoriaMetrics results land when a remote target had no Prometheus of its own."""

_KNOWN = "|".join(QUERY_VARIABLES)
_VARIABLE = re.compile(rf"\$(?:\{{({_KNOWN})\}}|({_KNOWN}))")

KubeconfigSource = Callable[[str, str, str], Awaitable[str | None]]
"""``(target, cluster_type, cluster_name) → kubeconfig YAML`` of a remote target, or None when unknown."""


def substitute(query: str, variables: Mapping[str, str]) -> str:
    """Replace ``$EXPERIMENT``/``${EXPERIMENT}`` etc.; like the original, plain text replacement."""
    return _VARIABLE.sub(lambda m: variables[m.group(1) or m.group(2)], query)


def step_seconds(length: timedelta) -> int:
    if length < timedelta(minutes=5):
        return 15
    if length < timedelta(hours=1):
        return 60
    return 300


def duration_variable(iteration: int, length: timedelta) -> str:
    """The ``$DURATION`` of a quality-gate iteration: the whole run first, then 10m, 5m, 2m."""
    shrinking = {1: timedelta(minutes=10), 2: timedelta(minutes=5)}
    if iteration <= 0:
        return format_duration(length)
    return format_duration(shrinking.get(iteration, timedelta(minutes=2)))


def time_window(created: datetime, now: datetime) -> TimeWindow | None:
    """Creation to now; None when the run is too short to query (under 30 s)."""
    length = now - created
    if length < MIN_WINDOW:
        return None
    return TimeWindow(start=created, end=now, duration=format_duration(length), step_seconds=step_seconds(length))


_EXCLUDED_NAMESPACES = "kube-system|gke-managed-system|gmp-system|gmp-public|kube-node-lease|kube-public|observability"
_EXCLUDED_PODS = (
    "alloy-.*|ts-vm-hub-.*|prometheus-.*|alertmanager-.*|grafana-.*|kube-state-metrics-.*|node-exporter-.*"
    "|kube-prometheus-stack-.*|tailscale-operator-.*|operator-.*"
)


def default_queries(hub: bool) -> list[MetricsQuery]:
    """The original's four range queries; on the hub filtered by Alloy's ``experiment`` external label."""
    scope = 'experiment="$EXPERIMENT",' if hub else ""
    base = f'{scope}namespace!~"{_EXCLUDED_NAMESPACES}",pod!~"{_EXCLUDED_PODS}"'
    by_pod = f'{base},container!="POD",container!=""'
    cpu, mem = "rate(container_cpu_usage_seconds_total{%s}[1m])", "container_memory_working_set_bytes{%s}"
    rows = (
        ("cpu_by_pod", f"sum by (pod) ({cpu % by_pod})", "cores", "CPU usage by pod"),
        ("memory_by_pod", f"sum by (pod) ({mem % by_pod})", "bytes", "Memory working set by pod"),
        ("cpu_total", f"sum({cpu % base})", "cores", "Total CPU usage"),
        ("memory_total", f"sum({mem % base})", "bytes", "Total memory working set"),
    )
    return [MetricsQuery(name=n, query=q, type=MetricType.RANGE, unit=u, description=d) for n, q, u, d in rows]


def resolve(queries: Sequence[MetricsQuery], variables: Mapping[str, str]) -> list[ResolvedQuery]:
    return [
        ResolvedQuery(q.name, substitute(q.query, variables), MetricType(q.type), q.unit, q.description)
        for q in queries
    ]


def hub_metrics_client() -> httpx.AsyncClient:
    """The client (connection pool) of every hub query on this event loop, for the worker's life.

    A client per collection opened up to one connection per parallel query to the hub's VictoriaMetrics
    and closed them again: TCP set-up and teardown were ~8 % of a busy worker's samples. Idle connections
    expire after httpx's keep-alive time; each query still has its own timeout.
    """
    loop = asyncio.get_running_loop()
    client = _HUB_CLIENTS.get(loop)
    if client is None or client.is_closed:
        client = _HUB_CLIENTS[loop] = httpx.AsyncClient(verify=default_tls())
    return client


_HUB_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


class MetricsCollector:
    """Collects one experiment's metrics from every target, falling back to the hub VictoriaMetrics."""

    def __init__(self, settings: ResultsSettings, kubeconfigs: KubeconfigSource | None = None) -> None:
        self._settings = settings
        self._kubeconfigs = kubeconfigs

    async def collect(
        self,
        *,
        experiment: str,
        namespace: str,
        workload_namespace: str,
        spec: ExperimentSpec,
        cluster_names: Mapping[str, str],
        iteration: int,
        created: datetime,
        now: datetime,
    ) -> MetricsSnapshot | None:
        """None when the window is too short; otherwise a snapshot (possibly without data)."""
        window = time_window(created, now)
        if window is None:
            return None
        duration = duration_variable(iteration, window.length)
        hub_vars = {"EXPERIMENT": experiment, "NAMESPACE": namespace, "DURATION": duration}
        target_vars = {"EXPERIMENT": experiment, "NAMESPACE": workload_namespace, "DURATION": duration}
        custom = list(spec.metrics or [])
        hub_http = hub_metrics_client()
        results: dict[str, TargetMetrics] = {}
        for target in spec.targets:
            if target.cluster.type == ClusterType.HUB:
                queries = resolve(custom or default_queries(True), hub_vars)
                results[target.name] = await self._query_hub(hub_http, queries, window)
                continue
            block = await self._query_target(
                workload_namespace,
                target.name,
                str(target.cluster.type),
                cluster_names.get(target.name),
                custom,
                target_vars,
                window,
            )
            if block is not None:
                results[target.name] = block
        if all(b.empty for b in results.values()) or len(results) < len(spec.targets):
            hub_queries = resolve(custom or default_queries(True), hub_vars)
            already = any(t.cluster.type == ClusterType.HUB for t in spec.targets)
            if self._settings.metrics_url and not already:
                key = HUB_FALLBACK_KEY if HUB_FALLBACK_KEY not in results else f"{HUB_FALLBACK_KEY}-metrics"
                hub = await self._query_hub(hub_http, hub_queries, window)
                if not hub.empty or not results:
                    results[key] = hub
        return MetricsSnapshot.merge(now, window, results)

    async def _query_hub(
        self, http: httpx.AsyncClient, queries: list[ResolvedQuery], window: TimeWindow
    ) -> TargetMetrics:
        if not self._settings.metrics_url:
            return TargetMetrics(source=None, queries={})
        client = self._client(http, self._settings.metrics_url)
        return TargetMetrics(source=HUB_SOURCE, queries=await client.run_all(queries, window, HUB_SOURCE))

    async def _query_target(
        self,
        workload_namespace: str,
        target: str,
        cluster_type: str,
        cluster_name: str | None,
        custom: list[MetricsQuery],
        variables: Mapping[str, str],
        window: TimeWindow,
    ) -> TargetMetrics | None:
        """The target's own Prometheus through its API server's service proxy; None if none answers."""
        if self._kubeconfigs is None or not cluster_name:
            return None
        kubeconfig = await self._kubeconfigs(target, cluster_type, cluster_name)
        if not kubeconfig:
            return None
        access = TargetAccess.from_kubeconfig(kubeconfig)
        queries = resolve(custom or default_queries(False), variables)
        async with access.client() as http:
            for endpoint in await discover_prometheus(http, access.server, workload_namespace, self._settings):
                client = self._client(http, endpoint.url)
                answered = await client.run_all(queries, window, endpoint.source)
                if any(not r.error for r in answered.values()):
                    return TargetMetrics(source=endpoint.source, queries=answered)
        return None

    def _client(self, http: httpx.AsyncClient, url: str) -> PromQLClient:
        s = self._settings
        return PromQLClient(
            http,
            url,
            timeout=s.metrics_query_timeout_seconds,
            attempts=s.metrics_query_attempts,
            parallelism=s.metrics_parallelism,
        )
