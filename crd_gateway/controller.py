"""The reconcile loop: cache of Experiments from the watchers, a work queue, N workers.

One reconcile = observe (cached record + Temporal describe) → plan (pure) → execute. A key is
never reconciled by two workers at once; a key that changes meanwhile is reconciled again after.
Failures requeue the key with a per-key jittered exponential backoff; success forgets it.

Most watch events are the workflow's own status reports, written by this gateway; describing the
workflow for each would cost a Temporal call per report. So a reconcile describes only when the
answer can change the plan: a key whose workflow this process started or saw running (and did not
see cancelled) plans against "running" until the Experiment is being deleted, a reconcile fails, or
a sweep's visibility answer no longer lists the workflow; a brand-new Experiment (no finalizer, no
workflow recorded in its status) plans against "none", since its start is idempotent (an existing
workflow answers "already started" and the next reconcile describes it).

The cache holds slim records (observe.py), not objects. Watch events reconcile their key. A full
list (start, 410 Gone) and the resync every ``resync_seconds`` do not describe every workflow:
a *sweep* asks Temporal once (a paginated visibility query) which ExperimentWorkflows run, plans
each cached Experiment against that answer, and reconciles only those whose plan has something to
do (the reconcile's describe then confirms). Visibility lags a moment behind Temporal; a record it
shows wrong is caught by the describe or by the next sweep. So 10,000 finished Experiments cost one
query per resync, and a workflow that ended without reporting (terminated, timed out) or never
started is found by the next sweep.

A deleted Experiment whose workflow is still running waits for that workflow to close (its cleanup).
Nothing long-polls the close: the workflow's reports reach this gateway's status writer (``on_report``)
and the last one comes just before it closes, so each report re-checks the key at once and then at
a quickly growing interval; the deletion poll (``deletion_poll_seconds``) is the bounded fallback for a
workflow that closes without a last report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import timedelta

from kubernetes.client.exceptions import ApiException

from crd_gateway import metrics
from crd_gateway.backoff import Backoff
from crd_gateway.executor import Executor
from crd_gateway.logs import log
from crd_gateway.observe import ObservedExperiment, ObservedWorkflow, WorkflowState
from crd_gateway.planner import Plan, Requeue, plan
from crd_gateway.settings import GatewaySettings
from crd_gateway.status_writer import now
from crd_gateway.temporal import Workflows

SWEEP_SLICE = 500
"""A sweep yields the event loop after planning this many Experiments."""
CLOSE_RECHECK_SECONDS = 0.25
"""After a status report of a deleted Experiment: re-check its workflow this soon, doubling each time."""


class WorkQueue:
    """Deduplicating queue: a key is queued at most once and handed to one worker at a time."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def add(self, key: str) -> None:
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)
        metrics.QUEUE_DEPTH.set(len(self._queued))

    def add_after(self, key: str, seconds: float) -> None:
        old = self._timers.get(key)
        if old is not None and old.when() <= asyncio.get_running_loop().time() + seconds:
            return
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(seconds, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> str:
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        metrics.QUEUE_DEPTH.set(len(self._queued))
        return key

    def done(self, key: str) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class Controller:
    def __init__(self, settings: GatewaySettings, workflows: Workflows, executor: Executor) -> None:
        self.settings = settings
        self.workflows = workflows
        self.executor = executor
        self.cache: dict[str, ObservedExperiment] = {}
        self.queue = WorkQueue()
        self.synced: set[str | None] = set()
        self._failures: dict[str, int] = {}
        self._awaiting_close: dict[str, int] = {}
        """Deleted Experiments waiting for their workflow's close → re-checks since the last report (-1: none)."""
        self._known_running: dict[str, str] = {}
        """Keys whose workflow this process started or described running → that workflow id (module doc)."""
        self._sweeps: set[asyncio.Task[None]] = set()
        self._error_backoff = Backoff(settings.error_backoff_initial, settings.error_backoff_max)
        self._deletion_grace = timedelta(seconds=settings.deletion_grace_seconds)
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ watcher callbacks (threads)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def on_list(self, namespace: str | None, records: list[ObservedExperiment]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._replace, namespace, records)

    def on_event(self, kind: str, record: ObservedExperiment) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._apply, kind, record)

    # --------------------------------------------------------------------- cache (loop)

    def _replace(self, namespace: str | None, records: list[ObservedExperiment]) -> None:
        """A full list: everything listed is swept; cached keys not listed were deleted meanwhile."""
        listed = {r.key: r for r in records}
        stale = [k for k in self.cache if (namespace is None or k.startswith(f"{namespace}/")) and k not in listed]
        for key in stale:
            self._forget(key)
        self.cache.update(listed)
        self.synced.add(namespace)
        task = asyncio.create_task(self.sweep(list(listed)), name=f"sweep-{namespace or 'all'}")
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)

    def _apply(self, kind: str, record: ObservedExperiment) -> None:
        if kind == "DELETED":
            self._forget(record.key)
            return
        self.cache[record.key] = record
        self.queue.add(record.key)

    def _forget(self, key: str) -> None:
        self.cache.pop(key, None)
        self._failures.pop(key, None)
        self._awaiting_close.pop(key, None)
        self._known_running.pop(key, None)

    def started(self, experiment: ObservedExperiment) -> None:
        """The executor started ``experiment``'s workflow: it runs, no need to describe it next time."""
        self._known_running[experiment.key] = experiment.workflow_id

    # ------------------------------------------------------------------ workflow closes

    def await_close(self, key: str) -> None:
        """The executor's ``WaitForWorkflowClose``: after a report, re-check soon and then less often."""
        rechecks = self._awaiting_close.setdefault(key, -1)
        if rechecks >= 0:
            self._awaiting_close[key] = rechecks + 1
            delay = min(CLOSE_RECHECK_SECONDS * 2.0**rechecks, self.settings.deletion_poll_seconds)
            self.queue.add_after(key, delay)

    def on_report(self, key: str) -> None:
        """The status writer wrote a report of ``key``'s workflow; for a deletion it may be the last."""
        if key in self._awaiting_close:
            self._awaiting_close[key] = 0
            self.queue.add(key)

    # --------------------------------------------------------------------------- sweeps

    async def sweep(self, keys: Iterable[str] | None = None) -> None:
        """Reconcile the Experiments (all cached ones by default) whose plan, against the one visibility
        answer of which workflows run, has work. Temporal not answering: reconcile them all."""
        chosen = list(self.cache) if keys is None else list(keys)
        began = time.perf_counter()
        try:
            running = await self.workflows.running_ids()
        except Exception as err:
            metrics.SWEEPS.labels("fallback").inc()
            log.warning("listing the running workflows failed (%s); reconciling each Experiment", str(err)[:300])
            for key in chosen:
                self.queue.add(key)
            return
        metrics.SWEEPS.labels("visibility").inc()
        for key in [k for k, wid in self._known_running.items() if wid not in running]:
            del self._known_running[key]  # closed (or not yet visible): the next reconcile describes it
        moment = now()
        for index, key in enumerate(chosen):
            if index % SWEEP_SLICE == SWEEP_SLICE - 1:
                await asyncio.sleep(0)  # planning 10,000 records must not hold the loop (Lease renewals, reports)
            experiment = self.cache.get(key)
            if experiment is not None and _has_work(
                plan(experiment, _seen(experiment, running), moment, self._deletion_grace)
            ):
                metrics.SWEEP_ENQUEUED.inc()
                self.queue.add(key)
        metrics.SWEEP_SECONDS.observe(time.perf_counter() - began)

    # ------------------------------------------------------------------------- workers

    async def run(self) -> None:
        workers = [asyncio.create_task(self._worker(i), name=f"reconcile-{i}") for i in range(self.settings.workers)]
        resync = asyncio.create_task(self._resync(), name="resync")
        try:
            await asyncio.gather(*workers, resync)
        finally:
            tasks = [*workers, resync, *self._sweeps]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.queue.close()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            await self.sweep()

    async def _worker(self, index: int) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
            finally:
                self.queue.done(key)

    async def reconcile(self, key: str) -> None:
        experiment = self.cache.get(key)
        if experiment is None:
            return
        began = time.perf_counter()
        try:
            workflow = await self._observe(experiment)
            decided = plan(experiment, workflow, now(), self._deletion_grace)
            await self.executor.execute(decided, experiment)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._known_running.pop(key, None)
            if isinstance(err, ApiException) and err.status == 404:
                # Deleted between the watch event and this write: nothing is left to reconcile.
                log.info("the Experiment is gone", extra={"experiment": key, "workflow_id": experiment.workflow_id})
                return
            metrics.RECONCILES.labels("error").inc()
            metrics.ERRORS.labels("reconcile").inc()
            delay = self._backoff(key)
            log.warning(
                "reconcile failed (%s: %s); retrying in %.1fs",
                type(err).__name__,
                str(err)[:300],
                delay,
                extra={"experiment": key, "workflow_id": experiment.workflow_id},
            )
            self.queue.add_after(key, delay)
            return
        metrics.RECONCILES.labels("ok").inc()
        if decided.requeue == Requeue.BACKOFF:
            delay = self._backoff(key)
            log.warning(
                "Temporal unreachable (%s); retrying in %.1fs",
                workflow.error,
                delay,
                extra={"experiment": key, "workflow_id": experiment.workflow_id},
            )
            self.queue.add_after(key, delay)
            return
        self._failures.pop(key, None)
        if decided.requeue == Requeue.CLEANUP_POLL:
            self.queue.add_after(key, self.settings.deletion_poll_seconds)
        else:
            self._awaiting_close.pop(key, None)
        if decided.actions:
            log.debug("reconciled in %.3fs", time.perf_counter() - began, extra={"experiment": key})

    async def _observe(self, experiment: ObservedExperiment) -> ObservedWorkflow:
        """The workflow as the plan needs it: described, unless the answer is known (module doc)."""
        key = experiment.key
        if not experiment.deleting:
            if self._known_running.get(key) == experiment.workflow_id:
                metrics.DESCRIBES_AVOIDED.labels("known_running").inc()
                return ObservedWorkflow(WorkflowState.RUNNING)
            if not experiment.has_finalizer and experiment.status.temporal is None:
                metrics.DESCRIBES_AVOIDED.labels("new").inc()
                return ObservedWorkflow(WorkflowState.NOT_FOUND)
        workflow = await self.workflows.describe(experiment.workflow_id)
        if workflow.state == WorkflowState.RUNNING and not workflow.cancel_requested:
            self._known_running[key] = experiment.workflow_id
        else:
            self._known_running.pop(key, None)
        return workflow

    def _backoff(self, key: str) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return self._error_backoff.delay(failures)

    async def aclose(self) -> None:
        self.queue.close()


def _seen(experiment: ObservedExperiment, running: set[str]) -> ObservedWorkflow:
    """The workflow as the visibility answer shows it: running, or closed if it reported once, or none."""
    if experiment.workflow_id in running:
        return ObservedWorkflow(WorkflowState.RUNNING)
    temporal = experiment.status.temporal
    if temporal is not None and temporal.workflow_id == experiment.workflow_id:
        return ObservedWorkflow(WorkflowState.CLOSED)
    return ObservedWorkflow(WorkflowState.NOT_FOUND)


def _has_work(decided: Plan) -> bool:
    return bool(decided.actions) or decided.requeue != Requeue.NO
