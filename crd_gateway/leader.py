"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it.

A candidate takes the Lease when it is free, or when its record has not changed for a whole
``lease_duration`` as seen on the candidate's own clock (no trust in other replicas' clocks). The
leader renews every ``retry_period``; if it cannot renew for ``renew_deadline`` (shorter than the
lease) it stops leading *before* anyone else may start. A crashed leader is replaced within
lease_duration + retry_period (15 s + 2 s by default); a leader that shuts down cleanly releases
the Lease so the follower takes over at its next retry. Every write carries the read
resourceVersion, so two candidates can never both win.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException

from crd_gateway import metrics
from crd_gateway.kube import KubeApi
from crd_gateway.logs import log
from crd_gateway.settings import GatewaySettings


def _now() -> datetime:
    return datetime.now(UTC)


class LeaderElector:
    def __init__(self, kube: KubeApi, settings: GatewaySettings) -> None:
        self.kube = kube
        self.settings = settings
        self.identity = settings.identity
        self.is_leader = False
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._lease: client.V1Lease | None = None
        self.release_on_exit = True
        """False only to imitate a crash in tests: the Lease is then left to expire."""

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign forever; run ``lead()`` while holding the Lease, cancel it the moment it is lost."""
        try:
            while True:
                await self._acquire()
                await self._lead_while_renewing(lead)
        finally:
            if self.is_leader and self.release_on_exit:
                await asyncio.shield(self._release())
            self._set_leader(False)

    async def _acquire(self) -> None:
        while True:
            try:
                if await self._try_acquire_or_renew():
                    log.info("became leader", extra={"identity": self.identity})
                    return
            except Exception as err:
                metrics.ERRORS.labels("leader_election").inc()
                log.warning("lease acquire failed: %s", str(err)[:200], extra={"identity": self.identity})
            await asyncio.sleep(self.settings.retry_period_seconds)

    async def _lead_while_renewing(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._set_leader(True)
        leading = asyncio.create_task(lead(), name="leading")
        renewed = time.monotonic()
        try:
            while not leading.done():
                await asyncio.wait({leading}, timeout=self.settings.retry_period_seconds)
                if leading.done():
                    break
                try:
                    if await self._try_acquire_or_renew():
                        renewed = time.monotonic()
                        continue
                    log.warning("lease taken by another replica", extra={"identity": self.identity})
                    break
                except Exception as err:
                    metrics.ERRORS.labels("leader_election").inc()
                    log.warning("lease renew failed: %s", str(err)[:200], extra={"identity": self.identity})
                if time.monotonic() - renewed > self.settings.renew_deadline_seconds:
                    log.error("could not renew the lease within the renew deadline", extra={"identity": self.identity})
                    break
        finally:
            if not leading.done():
                leading.cancel()
            await asyncio.gather(leading, return_exceptions=True)
            if leading.done() and not leading.cancelled() and leading.exception() is not None:
                self._set_leader(False)
                raise leading.exception()  # type: ignore[misc]
        self._set_leader(False)
        log.info("stopped leading", extra={"identity": self.identity})

    def _set_leader(self, value: bool) -> None:
        self.is_leader = value
        metrics.IS_LEADER.set(1 if value else 0)

    # ---------------------------------------------------------------------- lease record

    async def _try_acquire_or_renew(self) -> bool:
        ns, name = self.settings.lease_namespace, self.settings.lease_name
        api = self.kube.coordination
        try:
            lease: client.V1Lease = await self.kube.call(api.read_namespaced_lease, name, ns)
        except ApiException as err:
            if err.status != 404:
                raise
            body = client.V1Lease(metadata=client.V1ObjectMeta(name=name, namespace=ns), spec=self._spec(None))
            try:
                self._lease = await self.kube.call(api.create_namespaced_lease, ns, body)
            except ApiException as create_err:
                if create_err.status == 409:
                    return False
                raise
            return True
        spec = lease.spec or client.V1LeaseSpec()
        record = (spec.holder_identity, spec.renew_time, spec.lease_transitions)
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        holder = spec.holder_identity
        duration = spec.lease_duration_seconds or self.settings.lease_duration_seconds
        expired = time.monotonic() - self._observed_at > duration
        if holder and holder != self.identity and not expired:
            return False
        lease.spec = self._spec(spec)
        try:
            self._lease = await self.kube.call(api.replace_namespaced_lease, name, ns, lease)
        except ApiException as err:
            if err.status == 409:
                return False
            raise
        return True

    def _spec(self, current: client.V1LeaseSpec | None) -> client.V1LeaseSpec:
        now = _now()
        mine = current is not None and current.holder_identity == self.identity
        transitions = (current.lease_transitions or 0) if current else 0
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=max(1, round(self.settings.lease_duration_seconds)),
            acquire_time=current.acquire_time if mine and current else now,
            renew_time=now,
            lease_transitions=transitions if mine or current is None else transitions + 1,
        )

    async def _release(self) -> None:
        lease = self._lease
        if lease is None or lease.spec is None or lease.spec.holder_identity != self.identity:
            return
        ns, name = self.settings.lease_namespace, self.settings.lease_name
        lease.spec.holder_identity = None
        lease.spec.lease_duration_seconds = 1
        lease.spec.renew_time = _now()
        try:
            await self.kube.call(self.kube.coordination.replace_namespaced_lease, name, ns, lease)
            log.info("released the lease", extra={"identity": self.identity})
        except Exception as err:  # it expires by itself
            log.warning("releasing the lease failed: %s", str(err)[:200], extra={"identity": self.identity})
