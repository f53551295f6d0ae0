"""What a run costs, measured from outside: CPU seconds per process, API-server requests, Temporal tasks.

Each figure is a difference of two samples (before the creates, after the cleanup) taken from the
sources themselves, so nothing in the measured processes has to cooperate:

- CPU: ``/proc/<pid>/stat`` ``utime + stime`` of each lab process, plus ``cutime + cstime`` (its
  children that exited) and the same of its live descendants;
- API requests: the kube-apiserver's own ``apiserver_request_total`` on ``/metrics`` (read with the
  lab's admin kubeconfig), summed over response codes per verb and resource(/subresource);
- Temporal: every ExperimentWorkflow's history, events counted by type (workflow tasks scheduled
  and completed, activity tasks scheduled, all events). Histories are exact where the dev server's
  own metrics aggregate over every workflow type and task queue.

The parsing (``/proc`` stat lines, Prometheus text, event types) is in pure functions the tests cover.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.common import api_client, rss_mib
from labctl.lab.state import LabState

TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------- CPU


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    own_ticks: int
    """utime + stime."""
    reaped_ticks: int
    """cutime + cstime: children that exited and were waited for."""


def parse_proc_stat(text: str) -> ProcStat:
    """One ``/proc/<pid>/stat`` line. The command name (field 2) is in parentheses and may itself
    contain spaces and parentheses, so the fields are counted from the last ``)``."""
    pid, _, rest = text.partition(" (")
    fields = rest[rest.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ProcStat(int(pid), int(fields[1]), utime + stime, cutime + cstime)


def tree_ticks(stats: Iterable[ProcStat], root: int) -> int:
    """CPU ticks of ``root`` and every live descendant, each with its reaped children."""
    children: dict[int, list[ProcStat]] = {}
    by_pid: dict[int, ProcStat] = {}
    for stat in stats:
        by_pid[stat.pid] = stat
        children.setdefault(stat.ppid, []).append(stat)
    if root not in by_pid:
        raise LookupError(f"no process {root}")
    total, todo = 0, [by_pid[root]]
    while todo:
        stat = todo.pop()
        total += stat.own_ticks + stat.reaped_ticks
        todo.extend(children.get(stat.pid, []))
    return total


def all_stats() -> list[ProcStat]:
    stats = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats.append(parse_proc_stat((entry / "stat").read_text()))
            except OSError:  # exited while we looked
                continue
    return stats


def cpu_seconds(pids: Mapping[str, int]) -> dict[str, float]:
    """Service → CPU seconds used so far by its process tree (missing when the process is gone)."""
    stats = all_stats()
    seconds: dict[str, float] = {}
    for service, pid in pids.items():
        try:
            seconds[service] = tree_ticks(stats, pid) / TICKS
        except LookupError:
            continue
    return seconds


def peak_rss_mib(pid: int) -> float:
    """Peak resident set (``VmHWM``) of a process or, when larger, of one of its live descendants, MiB."""
    stats = all_stats()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(s.pid for s in stats if s.ppid == current)
    peaks = [0.0]
    for member in tree:
        try:
            peaks.append(rss_mib(member)[1])
        except OSError:
            continue
    return max(peaks)


# ------------------------------------------------------------------------------------ API requests


def request_counts(metrics_text: str) -> Counter[str]:
    """``apiserver_request_total`` in Prometheus text → ``"VERB resource[/subresource]"`` → requests
    (summed over codes, scopes, groups and versions). Requests for a path that is no resource
    (``/healthz``, ``/metrics``) count under that path."""
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if sample.name != "apiserver_request_total":
                continue
            labels = sample.labels
            resource, subresource = labels.get("resource", ""), labels.get("subresource", "")
            if not resource:  # a non-resource path: the API server puts it in subresource
                resource, subresource = subresource or "-", ""
            if subresource:
                resource += "/" + subresource
            counts[f"{labels.get('verb', '?')} {resource}"] += int(sample.value)
    return counts


def apiserver_metrics(state: LabState) -> str:
    """The hub kube-apiserver's ``/metrics`` text, read with the lab's admin kubeconfig."""
    api = api_client(state, pool=1)
    try:
        method, url, headers, body, post = api.param_serialize("GET", "/metrics", auth_settings=["BearerToken"])
        response = api.call_api(method, url, headers, body, post, _request_timeout=30)
        return bytes(response.read()).decode()  # type: ignore[no-untyped-call]
    finally:
        api.close()  # type: ignore[no-untyped-call]


def apiserver_requests(state: LabState) -> Counter[str]:
    return request_counts(apiserver_metrics(state))


# ------------------------------------------------------------------------------------------ Temporal


TASK_EVENTS = {
    "events": None,
    "workflow tasks scheduled": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "workflow tasks completed": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    "workflow tasks failed/timed out": ("EVENT_TYPE_WORKFLOW_TASK_FAILED", "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"),
    "activity tasks scheduled": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
}
"""Figure → the event type(s) it counts (``None``: every event)."""


def history_counts(event_types: Iterable[str]) -> dict[str, int]:
    """One history's event type names (``EVENT_TYPE_…``) → the figures of :data:`TASK_EVENTS`."""
    seen = Counter(event_types)
    figures: dict[str, int] = {}
    for figure, wanted in TASK_EVENTS.items():
        if wanted is None:
            figures[figure] = seen.total()
        else:
            figures[figure] = sum(seen[name] for name in ((wanted,) if isinstance(wanted, str) else wanted))
    return figures


def temporal_histories(state: LabState) -> dict[str, dict[str, int]]:
    """Workflow id → :func:`history_counts` of every ExperimentWorkflow in the lab's Temporal."""

    async def collect() -> dict[str, dict[str, int]]:
        from temporalio.api.enums.v1 import EventType
        from temporalio.client import Client

        temporal = await Client.connect(f"127.0.0.1:{state.ports['temporal']}")
        ids = [wf.id async for wf in temporal.list_workflows("WorkflowType = 'ExperimentWorkflow'")]
        slots = asyncio.Semaphore(16)

        async def count(workflow_id: str) -> dict[str, int]:
            async with slots:
                history = await temporal.get_workflow_handle(workflow_id).fetch_history()
            return history_counts(EventType.Name(event.event_type) for event in history.events)

        return dict(zip(ids, await asyncio.gather(*(count(i) for i in ids)), strict=True))

    return asyncio.run(collect())


# ------------------------------------------------------------------------------------------ compare


def ratios(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, float]:
    """after / before of every number both have (``inf`` when before is 0 and after is not)."""
    out: dict[str, float] = {}
    for key, old in before.items():
        new = after.get(key)
        if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
            out[key] = new / old if old else (1.0 if not new else float("inf"))
    return out
