"""The soak's parts: a watch that logs every Experiment's progress, and the faults injected on a schedule.

Progress is a change, seen by a watch on Experiments, of any one Experiment's phase, conditions
(type, status, reason), ``resourcesCleaned`` or ``reviewPhase``; a re-list after a reconnect that
shows the same status is no progress. An Experiment is *done* when nothing more will happen to it:
``Failed``, or ``Complete`` with its cleanup reported and its review gate closed; the soak expects
every one ``Complete`` with its review ``Approved`` (its pull request merged).

:class:`Faults` plays a supervisor that restarts what it kills at once: the worker SIGKILLed every
``worker_every`` s, the gateway every ``gateway_every`` s, the Temporal dev server stopped and
started once (same SQLite file) and the kube-apiserver restarted once (same etcd), each at its time
after the start; a fault due while another is being recovered waits for it.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from bench.common import load, percentile
from tests.resilience.conftest import Obj, ResilienceLab

FINAL = ("Complete", "Failed")


def _progress_key(status: Obj) -> tuple[Any, ...]:
    conditions = sorted((c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or [])
    return status.get("phase"), tuple(conditions), status.get("resourcesCleaned"), status.get("reviewPhase")


def is_done(status: Obj) -> bool:
    """Nothing more will happen: Failed, or Complete with its cleanup reported and its review gate closed."""
    if status.get("phase") == "Failed":
        return True
    closed = status.get("reviewPhase") in ("Approved", "Rejected", "Skipped")
    return status.get("phase") == "Complete" and bool(status.get("resourcesCleaned")) and closed


def succeeded(status: Obj) -> bool:
    """What the soak expects of every Experiment: Complete, cleaned up, its PR approved (and merged)."""
    return is_done(status) and status.get("phase") == "Complete" and status.get("reviewPhase") == "Approved"


@dataclass
class ProgressLog:
    """Fed by ``bench.common.Watcher``: when any Experiment progressed, and when each turned Complete and done."""

    names: set[str]
    progress: list[float] = field(default_factory=list)
    complete: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    last: dict[str, Obj] = field(default_factory=dict)
    _keys: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, now: float, kind: str, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if name not in self.names or kind == "DELETED":
            return
        status = dict(obj.get("status") or {})
        key = _progress_key(status)
        with self._changed:
            if self._keys.get(name) == key:
                return
            self._keys[name], self.last[name] = key, status
            self.progress.append(now)
            if status.get("phase") == "Complete":
                self.complete.setdefault(name, now)
            if is_done(status):
                self.done.setdefault(name, now)
            self._changed.notify_all()

    def wait_all_done(self, timeout: float, tick: Callable[[], None]) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.done) < len(self.names):
                if time.monotonic() >= deadline:
                    return False
                self._changed.wait(timeout=5)
                self._changed.release()
                try:
                    tick()
                finally:
                    self._changed.acquire()
        return True

    def first_progress_after(self, moment: float) -> float | None:
        with self._changed:
            i = bisect.bisect_right(self.progress, moment)
            return self.progress[i] if i < len(self.progress) else None

    def first_complete_after(self, moment: float) -> float | None:
        with self._changed:
            later = [t for t in self.complete.values() if t > moment]
        return min(later, default=None)

    def unfinished_at(self, moment: float) -> int:
        with self._changed:
            return len(self.names) - sum(1 for t in self.done.values() if t <= moment)


@dataclass
class Fault:
    what: str
    began: float
    back: float = 0.0
    unfinished: int = 0
    """Experiments not yet done when the fault began: a fault with none is not mid-run."""
    note: str = ""


@dataclass(eq=False)
class Faults(threading.Thread):
    lab: ResilienceLab
    log: ProgressLog
    t0: float
    worker_every: float
    gateway_every: float
    temporal_at: float
    apiserver_at: float
    happened: list[Fault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loads: list[tuple[float, str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(name="soak-faults", daemon=True)

    def run(self) -> None:
        once = sorted([(self.temporal_at, "temporal restart"), (self.apiserver_at, "kube-apiserver restart")])
        next_worker, next_gateway = self.worker_every, self.gateway_every
        while not self.stopping.is_set():
            due = min([next_worker, next_gateway, *(t for t, _ in once)])
            if self.stopping.wait(max(0.0, self.t0 + due - time.monotonic())):
                return
            try:
                if due == next_worker:
                    self._kill_and_restart("worker")
                    next_worker += self.worker_every
                elif due == next_gateway:
                    self._kill_and_restart("crd-gateway")
                    next_gateway += self.gateway_every
                else:
                    _, what = once.pop(0)
                    self._restart_temporal() if what.startswith("temporal") else self._restart_apiserver()
            except Exception as exc:  # recorded and failed on at the end; the soak goes on
                self.errors.append(f"{time.monotonic() - self.t0:.0f} s: {type(exc).__name__}: {exc}"[:500])

    def sample_load(self) -> None:
        self.loads.append((time.monotonic() - self.t0, load()))

    def _begin(self, what: str) -> Fault:
        now = time.monotonic()
        fault = Fault(what, now, unfinished=self.log.unfinished_at(now))
        self.happened.append(fault)
        self.sample_load()
        return fault

    def _start(self, name: str) -> None:
        """As a supervisor does: start again until it is ready (it may depend on a server being restarted)."""
        for attempt in range(5):
            try:
                self.lab.start(name)
                return
            except RuntimeError:
                if attempt == 4:
                    raise

    def _kill_and_restart(self, name: str) -> None:
        fault = self._begin(f"{name} kill -9")
        self.lab.kill(name)
        self._start(name)
        fault.back = time.monotonic()

    def _restart_temporal(self) -> None:
        before = count_experiment_workflows(self.lab)
        fault = self._begin("temporal restart")
        self.lab.stack.processes["temporal"].stop()
        self.lab.start("temporal")
        fault.back = time.monotonic()
        after = count_experiment_workflows(self.lab)
        fault.note = f"ExperimentWorkflows in Temporal: {before} before, {after} after"
        if after < before:
            self.errors.append(f"Temporal lost workflows across its restart: {fault.note}")

    def _restart_apiserver(self) -> None:
        fault = self._begin("kube-apiserver restart")
        self.lab.restart_apiserver()
        fault.back = time.monotonic()


def count_experiment_workflows(lab: ResilienceLab) -> int:
    async def count() -> int:
        temporal = await Client.connect(f"127.0.0.1:{lab.state.ports['temporal']}")
        return (await temporal.count_workflows("WorkflowType = 'ExperimentWorkflow'")).count

    return asyncio.run(count())


# ---------------------------------------------------------------------------------------- report


def report(log: ProgressLog, faults: Faults, created: dict[str, float], ended: float, bucket: float = 60) -> list[str]:
    """The soak's figures as lines of Markdown (they paste into docs/resilience.md)."""
    t0 = faults.t0
    lines = [
        f"wall time: {ended - t0:.0f} s from the first create to the last done ({len(log.done)}/{len(log.names)} done)"
    ]
    to_complete = [log.complete[n] - created[n] for n in log.complete]
    to_done = [log.done[n] - created[n] for n in log.done]
    lines.append(
        f"create → Complete: p50 {percentile(to_complete, 50):.0f} s, max {max(to_complete, default=0):.0f} s; "
        f"create → done (cleaned, PR merged): p50 {percentile(to_done, 50):.0f} s, max {max(to_done, default=0):.0f} s"
    )
    loads = [one for _, one in faults.loads]
    lines.append(f"load (1/5/15 min) sampled {len(loads)} times: first {loads[:1]}, last {loads[-1:]}")
    ones = [float(v.split("/")[0]) for v in loads]
    if ones:
        lines.append(f"1-minute load: min {min(ones):.1f}, p50 {percentile(ones, 50):.1f}, max {max(ones):.1f}")
    by_kind: dict[str, list[float]] = {}
    for f in faults.happened:
        progress = log.first_progress_after(f.back) if f.back else None
        if progress is not None:
            by_kind.setdefault(f.what, []).append(progress - (f.began if "kill" in f.what else f.back))
    for what, times in by_kind.items():
        lines.append(
            f"recovery after {what} ({len(times)}×): p50 {percentile(times, 50):.1f} s, max {max(times):.1f} s"
        )
    lines += [
        "",
        "| fault | at (s) | unfinished then | back after (s) | progress after (s) | next Complete after (s) |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for f in faults.happened:
        start = f.began if "kill" in f.what else f.back  # kill -9: from the kill; restarts: from ready again
        progress = log.first_progress_after(f.back) if f.back else None
        complete = log.first_complete_after(f.began)
        lines.append(
            f"| {f.what}{f' ({f.note})' if f.note else ''} | {f.began - t0:.0f} | {f.unfinished} | "
            f"{_seconds(f.back, f.began)} | {_seconds(progress, start)} | {_seconds(complete, f.began)} |"
        )
    lines += ["", "| time (s) | done | Complete |", "|---|---|---|"]
    edges = [t0 + bucket * (i + 1) for i in range(int((ended - t0) // bucket) + 1)]
    for edge in edges:
        done = sum(1 for t in log.done.values() if t <= edge)
        complete = sum(1 for t in log.complete.values() if t <= edge)
        lines.append(f"| {edge - t0:.0f} | {done} | {complete} |")
    return lines


def _seconds(end: float | None, start: float) -> str:
    return "-" if not end else f"{end - start:.1f}"
