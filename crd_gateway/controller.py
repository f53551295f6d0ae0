"""The reconcile loop: cache of Experiments from the watchers, a work queue, N workers.

One reconcile = observe (cached object + Temporal describe) → plan (pure) → execute. A key is
never reconciled by two workers at once; a key that changes meanwhile is reconciled again after.
Failures requeue the key with a per-key jittered exponential backoff; success forgets it. Every cached
key is re-reconciled every ``resync_seconds`` (level-triggered: drift converges without events).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from crd_gateway import metrics
from crd_gateway.backoff import Backoff
from crd_gateway.executor import Executor
from crd_gateway.logs import log
from crd_gateway.observe import observe_experiment
from crd_gateway.planner import Requeue, plan
from crd_gateway.settings import GatewaySettings
from crd_gateway.status_writer import now
from crd_gateway.temporal import Workflows

Object = dict[str, Any]


def object_key(obj: Object) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


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
        self.cache: dict[str, Object] = {}
        self.queue = WorkQueue()
        self.synced: set[str | None] = set()
        self._failures: dict[str, int] = {}
        self._error_backoff = Backoff(settings.error_backoff_initial, settings.error_backoff_max)
        self._deletion_grace = timedelta(seconds=settings.deletion_grace_seconds)
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ watcher callbacks (threads)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def on_list(self, namespace: str | None, items: list[Object]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._replace, namespace, items)

    def on_event(self, kind: str, obj: Object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._apply, kind, obj)

    def on_workflow_closed(self, key: str) -> None:
        self.queue.add(key)

    # --------------------------------------------------------------------- cache (loop)

    def _replace(self, namespace: str | None, items: list[Object]) -> None:
        """A full list: everything listed is reconciled; cached keys not listed were deleted meanwhile."""
        listed = {object_key(o): o for o in items}
        stale = [k for k in self.cache if (namespace is None or k.startswith(f"{namespace}/")) and k not in listed]
        for key in stale:
            del self.cache[key]
        self.cache.update(listed)
        self.synced.add(namespace)
        for key in listed:
            self.queue.add(key)

    def _apply(self, kind: str, obj: Object) -> None:
        key = object_key(obj)
        if kind == "DELETED":
            self.cache.pop(key, None)
            self._failures.pop(key, None)
            return
        self.cache[key] = obj
        self.queue.add(key)

    # ------------------------------------------------------------------------- workers

    async def run(self) -> None:
        workers = [asyncio.create_task(self._worker(i), name=f"reconcile-{i}") for i in range(self.settings.workers)]
        resync = asyncio.create_task(self._resync(), name="resync")
        try:
            await asyncio.gather(*workers, resync)
        finally:
            for task in [*workers, resync]:
                task.cancel()
            await asyncio.gather(*workers, resync, return_exceptions=True)
            self.queue.close()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            for key in list(self.cache):
                self.queue.add(key)

    async def _worker(self, index: int) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
            finally:
                self.queue.done(key)

    async def reconcile(self, key: str) -> None:
        obj = self.cache.get(key)
        if obj is None:
            return
        began = time.perf_counter()
        experiment = observe_experiment(obj)
        try:
            workflow = await self.workflows.describe(experiment.workflow_id)
            decided = plan(experiment, workflow, now(), self._deletion_grace)
            await self.executor.execute(decided, experiment, obj)
        except asyncio.CancelledError:
            raise
        except Exception as err:
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
        if decided.actions:
            log.debug("reconciled in %.3fs", time.perf_counter() - began, extra={"experiment": key})

    def _backoff(self, key: str) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return self._error_backoff.delay(failures)

    async def aclose(self) -> None:
        self.queue.close()
        with contextlib.suppress(Exception):
            await self.executor.aclose()
