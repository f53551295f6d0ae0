"""Prometheus metrics of the gateway (served on /metrics by health.py)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

WATCH_RESTARTS = Counter(
    "crd_gateway_watch_restarts_total",
    "Watch streams re-opened, by cause (timeout, stall, gone, error).",
    ["cause"],
)
WATCH_EVENTS = Counter("crd_gateway_watch_events_total", "Watch events received, by type.", ["type"])
RELISTS = Counter("crd_gateway_relists_total", "Full lists of Experiments (start, 410 Gone).")
LIST_PAGES = Counter("crd_gateway_list_pages_total", "LIST requests (pages of a full list).")
RECONCILES = Counter("crd_gateway_reconciles_total", "Reconciles, by result (ok, error).", ["result"])
ACTIONS = Counter("crd_gateway_actions_total", "Planned actions executed, by kind.", ["action"])
WORKFLOW_STARTS = Counter(
    "crd_gateway_workflow_starts_total", "StartWorkflow outcomes (started, already_started).", ["result"]
)
STATUS_WRITES = Counter(
    "crd_gateway_status_writes_total",
    "Status reports, by result (written, stale, gone, conflict_retry; kept_stale: a 409 on the kept copy).",
    ["result"],
)
STATUS_WRITE_SECONDS = Histogram(
    "crd_gateway_status_write_seconds",
    "Time to patch one status report onto the Experiment, conflict retries included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter("crd_gateway_errors_total", "Errors, by where they happened.", ["where"])
IS_LEADER = Gauge("crd_gateway_leader", "1 while this replica holds the Lease.")
QUEUE_DEPTH = Gauge("crd_gateway_queue_depth", "Experiments waiting to be reconciled.")
RATE_LIMITED_CALLS = Counter(
    "crd_gateway_rate_limited_calls_total", "Calls that took a token, by backend (kube_writes, temporal).", ["backend"]
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "crd_gateway_rate_limit_wait_seconds_total", "Time calls waited for a token, by backend.", ["backend"]
)
TEMPORAL_CALLS = Counter(
    "crd_gateway_temporal_calls_total",
    "Temporal RPCs, by call (describe, start, cancel, update, list_page).",
    ["call"],
)
DESCRIBES_AVOIDED = Counter(
    "crd_gateway_describes_avoided_total",
    "Reconciles that planned without describing the workflow, by why (known_running, new).",
    ["reason"],
)
SWEEPS = Counter(
    "crd_gateway_sweeps_total",
    "Whole-cache sweeps (after a list, every resync), by how (visibility, fallback).",
    ["how"],
)
SWEEP_SECONDS = Histogram(
    "crd_gateway_sweep_seconds",
    "One sweep: the visibility query's pages plus planning every cached Experiment against the answer.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SWEEP_ENQUEUED = Counter("crd_gateway_sweep_enqueued_total", "Experiments a sweep found work for.")


class ExperimentsByPhase(Collector):
    """``crd_gateway_experiments{phase}``: the watched Experiments by ``status.phase``, counted at scrape
    time from the leader's cache (a follower has none and reports nothing)."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[str | None]] = list
        """The cached Experiments' phases."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("crd_gateway_experiments", "Watched Experiments by status.phase.", labels=["phase"])
        phases = Tally(str(phase or "Pending") for phase in self.source())
        for phase, count in sorted(phases.items()):
            family.add_metric([phase], count)
        yield family


EXPERIMENTS_BY_PHASE = ExperimentsByPhase()
REGISTRY.register(EXPERIMENTS_BY_PHASE)
