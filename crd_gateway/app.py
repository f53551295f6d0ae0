"""Wires the gateway together: Kubernetes and Temporal clients, leader election, and, while leading,
the watchers, the reconcile workers and the status-writer activity worker.

Only the leader acts: a follower holds no watch and serves no activity, so nothing it could do
races the leader. Leadership is per session: everything started for it is stopped when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client as k8s
from temporalio.client import Client
from temporalio.worker import Worker

from crd_gateway import metrics
from crd_gateway.controller import Controller
from crd_gateway.executor import Executor
from crd_gateway.kube import KubeApi
from crd_gateway.leader import LeaderElector
from crd_gateway.logs import log
from crd_gateway.observe import ObservedExperiment
from crd_gateway.ratelimit import RateLimiter
from crd_gateway.settings import GatewaySettings
from crd_gateway.status_writer import StatusWriter
from crd_gateway.temporal import TemporalWorkflows
from crd_gateway.watch import ExperimentWatcher
from runtime.health import HealthServer
from runtime.kube import new_api_client

WatcherFactory = Callable[..., ExperimentWatcher]


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        temporal: Client,
        api_client: k8s.ApiClient | None = None,
        watcher_factory: WatcherFactory = ExperimentWatcher,
    ) -> None:
        self.settings = settings
        self.temporal = temporal
        self._own_api_client = api_client is None
        self.api_client = api_client or new_api_client(settings.cluster_choice)
        self.pool = ThreadPoolExecutor(max_workers=settings.workers + 8, thread_name_prefix="gateway-kube")
        writes = RateLimiter("kube_writes", settings.kube_qps, settings.kube_burst)
        self.kube = KubeApi(self.api_client, self.pool, settings.kube_request_timeout, writes)
        self.writer = StatusWriter(
            self.kube, temporal.namespace, settings.temporal_ui_url, settings.identity, self._on_report
        )
        temporal_calls = RateLimiter("temporal", settings.temporal_qps, settings.temporal_burst)
        self.workflows = TemporalWorkflows(temporal, settings.workflow_task_queue, temporal_calls)
        self.executor = Executor(self.kube, self.workflows, self.writer, self._await_close, self._started)
        self.controller = Controller(settings, self.workflows, self.executor)
        metrics.EXPERIMENTS_BY_PHASE.source = lambda: (e.status.phase for e in self.controller.cache.values())
        self.elector = LeaderElector(self.kube, settings)
        self.health = HealthServer(settings.health_host, settings.health_port, self._healthz, self._readyz)
        self.watcher_factory = watcher_factory
        self.watchers: list[ExperimentWatcher] = []
        self.leading = False

    # ------------------------------------------------------------------------------ run

    async def run(self) -> None:
        self.controller.bind(asyncio.get_running_loop())
        await self.health.start()
        log.info("gateway started", extra={"identity": self.settings.identity})
        try:
            if self.settings.leader_election:
                await self.elector.run(self._lead)
            else:
                await self._lead()
        finally:
            await self.health.stop()
            await self.controller.aclose()
            self.pool.shutdown(wait=True, cancel_futures=True)
            if self._own_api_client:
                self.api_client.close()  # type: ignore[no-untyped-call]
            log.info("gateway stopped", extra={"identity": self.settings.identity})

    async def _lead(self) -> None:
        """One leadership session: serve the status activities, watch, reconcile — until cancelled."""
        self.leading = True
        worker = Worker(
            self.temporal,
            task_queue=self.settings.gateway_task_queue,
            activities=self.writer.activities(),
            max_concurrent_activities=max(8, self.settings.workers * 4),
        )
        namespaces: list[str | None] = list(self.settings.namespaces) or [None]
        self.controller.synced.clear()
        self.watchers = [
            self.watcher_factory(self.kube, self.settings, ns, self.controller.on_list, self.controller.on_event)
            for ns in namespaces
        ]
        try:
            async with worker:
                for watcher in self.watchers:
                    watcher.start()
                await self.controller.run()
        finally:
            self.leading = False
            await self._stop_watchers()

    async def _stop_watchers(self) -> None:
        loop = asyncio.get_running_loop()
        for watcher in self.watchers:
            watcher.stop()
        for watcher in self.watchers:
            with contextlib.suppress(Exception):
                await loop.run_in_executor(self.pool, watcher.join, self.settings.kube_request_timeout * 3)
        self.watchers = []

    def _on_report(self, key: str) -> None:
        self.controller.on_report(key)

    def _await_close(self, key: str) -> None:
        self.controller.await_close(key)

    def _started(self, experiment: ObservedExperiment) -> None:
        self.controller.started(experiment)

    # --------------------------------------------------------------------------- health

    def _healthz(self) -> tuple[bool, str]:
        dead = [w.namespace or "*" for w in self.watchers if not w.alive]
        if self.leading and dead:
            return False, f"watch threads died: {', '.join(dead)}"
        return True, "ok"

    def _readyz(self) -> tuple[bool, str]:
        if not self.leading:
            return True, "standby"
        wanted: set[Any] = set(self.settings.namespaces) or {None}
        missing = wanted - self.controller.synced
        if missing:
            return False, "initial list not done"
        return True, "leading"
