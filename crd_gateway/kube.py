"""Every Kubernetes call the gateway makes, and nothing else (deploy/gateway/rbac.yaml mirrors it).

The official client is synchronous; calls run on the gateway's own thread pool so the event loop
never blocks and shutting the pool down leaves no thread behind. Each call has a timeout; every
write to an Experiment or an Event first takes a token from the write limiter (the Lease is not
limited: a renewal that waits behind a burst of writes would cost the leadership).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from kubernetes import client
from kubernetes.client import ApiException

from api.base import API_GROUP, API_VERSION
from api.experiment import EXPERIMENT_FINALIZER
from crd_gateway.ratelimit import RateLimiter

PLURAL = "experiments"
COMPONENT = "crd-gateway"
T = TypeVar("T")


class Gone(Exception):
    """The Experiment no longer exists (or was replaced by a namesake with another uid)."""


class KubeApi:
    def __init__(
        self, api_client: client.ApiClient, pool: ThreadPoolExecutor, timeout: float, writes: RateLimiter
    ) -> None:
        self.api_client = api_client
        self.writes = writes
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self._pool = pool
        self.timeout = timeout

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        kwargs.setdefault("_request_timeout", self.timeout)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        await self.writes.acquire()
        return await self.call(fn, *args, **kwargs)

    # ---------------------------------------------------------------------- experiments

    async def get_experiment(self, namespace: str, name: str, uid: str | None = None) -> dict[str, Any]:
        try:
            obj = cast(
                dict[str, Any],
                await self.call(
                    self.custom.get_namespaced_custom_object, API_GROUP, API_VERSION, namespace, PLURAL, name
                ),
            )
        except ApiException as err:
            if err.status == 404:
                raise Gone(f"{namespace}/{name}") from err
            raise
        if uid and obj["metadata"].get("uid") != uid:
            raise Gone(f"{namespace}/{name} uid {uid}")
        return obj

    async def set_finalizers(
        self, namespace: str, name: str, resource_version: str, finalizers: list[str]
    ) -> dict[str, Any]:
        """Merge patch with the observed resourceVersion: a decision made on a stale object gets 409.

        Returns the object as the patch left it."""
        body = {"metadata": {"resourceVersion": resource_version, "finalizers": finalizers}}
        result = await self.write(
            self.custom.patch_namespaced_custom_object, API_GROUP, API_VERSION, namespace, PLURAL, name, body
        )
        return cast(dict[str, Any], result)

    async def add_finalizer(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The object as the patch left it; None when it had the finalizer already (nothing written)."""
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or [])
        if EXPERIMENT_FINALIZER in current:
            return None
        return await self.set_finalizers(
            meta["namespace"], meta["name"], meta["resourceVersion"], [*current, EXPERIMENT_FINALIZER]
        )

    async def remove_finalizer(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or [])
        if EXPERIMENT_FINALIZER in current:
            rest = [f for f in current if f != EXPERIMENT_FINALIZER]
            await self.set_finalizers(meta["namespace"], meta["name"], meta["resourceVersion"], rest)

    async def replace_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """PUT the status subresource; the object's resourceVersion makes a concurrent write a 409."""
        meta = obj["metadata"]
        body = {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "Experiment",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
            },
            "spec": obj.get("spec", {}),
            "status": status,
        }
        replace = self.custom.replace_namespaced_custom_object_status
        result = await self.write(replace, API_GROUP, API_VERSION, meta["namespace"], PLURAL, meta["name"], body)
        return cast(dict[str, Any], result)

    async def delete_experiment(self, namespace: str, name: str, uid: str) -> bool:
        """Delete this very object (uid precondition). False when it is already gone."""
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid))
        try:
            await self.write(
                self.custom.delete_namespaced_custom_object,
                API_GROUP,
                API_VERSION,
                namespace,
                PLURAL,
                name,
                body=options,
            )
        except ApiException as err:
            if err.status in (404, 409):
                return False
            raise
        return True

    # --------------------------------------------------------------------------- events

    async def record_event(
        self, obj: dict[str, Any], event_type: str, reason: str, message: str, reporter: str
    ) -> None:
        meta = obj["metadata"]
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=f"{meta['name']}.{uuid.uuid4().hex[:16]}", namespace=meta["namespace"]),
            involved_object=client.V1ObjectReference(
                api_version=f"{API_GROUP}/{API_VERSION}",
                kind="Experiment",
                name=meta["name"],
                namespace=meta["namespace"],
                uid=meta["uid"],
                resource_version=meta.get("resourceVersion"),
            ),
            type=event_type,
            reason=reason,
            message=message[:1024],
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=f"{API_GROUP}/{COMPONENT}",
            reporting_instance=reporter[:128],
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        await self.write(self.core.create_namespaced_event, meta["namespace"], event)
