"""Gateway fixtures: the real kube-apiserver, the Temporal dev server, the real ExperimentWorkflow
on a worker with the fake lab's activities, and gateways started and killed inside the test loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from kubernetes import client
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.base import API_GROUP, API_VERSION
from api.experiment import EXPERIMENT_FINALIZER
from api.names import workflow_id
from crd_gateway.app import Gateway, WatcherFactory
from crd_gateway.settings import GatewaySettings
from crd_gateway.watch import ExperimentWatcher
from tests.fixtures.eventually import eventually_async
from tests.fixtures.kube import KubeCluster
from tests.workflow.fakes import FakeLab
from worker.app import build_worker, register_search_attributes

PLURAL = "experiments"


def manifest(**spec: Any) -> dict[str, Any]:
    """A one-target hub Experiment in workflow mode that ends (and releases its workflow) at once."""
    body: dict[str, Any] = {
        "targets": [{"name": "app", "cluster": {"type": "hub"}, "components": [{"app": "hello-app"}]}],
        "workflow": {"template": "hello-app", "completion": {"mode": "workflow"}},
        "ttlDays": 0,
    }
    body.update(spec)
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Experiment",
        "metadata": {"generateName": "exp-"},
        "spec": body,
    }


class Cluster:
    """Experiments in one test namespace, seen through the admin client."""

    def __init__(self, kube: KubeCluster, namespace: str, temporal: Client) -> None:
        self.kube = kube
        self.namespace = namespace
        self.temporal = temporal
        self.api = client.CustomObjectsApi(kube.api_client())
        self.core = client.CoreV1Api(self.api.api_client)
        self.created: dict[str, float] = {}
        self.workflow_ids: set[str] = set()

    def create(self, body: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        body = body or manifest()
        if annotations:
            body["metadata"]["annotations"] = annotations
        obj: dict[str, Any] = self.api.create_namespaced_custom_object(
            API_GROUP, API_VERSION, self.namespace, PLURAL, body
        )
        meta = obj["metadata"]
        self.created[meta["name"]] = time.time()
        self.workflow_ids.add(workflow_id(self.namespace, meta["name"], meta["uid"]))
        return obj

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.api.get_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, PLURAL, name
            )
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise
        return obj

    def list(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api.list_namespaced_custom_object(
            API_GROUP, API_VERSION, self.namespace, PLURAL
        )["items"]
        return items

    def annotate(self, name: str, annotations: dict[str, str]) -> None:
        body = {"metadata": {"annotations": annotations}}
        self.api.patch_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, name, body)

    def delete(self, name: str) -> None:
        self.api.delete_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, name)

    def events(self, name: str) -> list[client.CoreV1Event]:
        selector = f"involvedObject.name={name}"
        return list(self.core.list_namespaced_event(self.namespace, field_selector=selector).items)

    def phase(self, name: str) -> str | None:
        obj = self.get(name)
        return (obj or {}).get("status", {}).get("phase")

    @staticmethod
    def workflow_id_of(obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        return workflow_id(meta["namespace"], meta["name"], meta["uid"])

    async def cleanup(self) -> None:
        for wid in self.workflow_ids:
            handle = self.temporal.get_workflow_handle(wid)
            with contextlib.suppress(Exception):
                if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("test over")
        for obj in self.list():
            if EXPERIMENT_FINALIZER in obj["metadata"].get("finalizers", []):
                with contextlib.suppress(client.ApiException):
                    self.api.patch_namespaced_custom_object(
                        API_GROUP,
                        API_VERSION,
                        self.namespace,
                        PLURAL,
                        obj["metadata"]["name"],
                        {"metadata": {"finalizers": None}},
                    )
        self.api.api_client.close()


async def workflow_started(temporal: Client, wid: str, timeout: float = 60.0) -> None:
    """Wait until the workflow exists (the gateway started it)."""

    async def described() -> bool:
        await temporal.get_workflow_handle(wid).describe()
        return True

    await eventually_async(described, timeout, f"workflow {wid} started", tolerate=(RPCError,))


class Gateways:
    """Starts gateways as tasks in the test loop; ``kill`` drops one without releasing its Lease."""

    def __init__(self, kube: KubeCluster, namespace: str, temporal: Client) -> None:
        self.kube, self.namespace, self.temporal = kube, namespace, temporal
        self.running: dict[Gateway, asyncio.Task[None]] = {}

    def settings(self, **overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "kubeconfig": str(self.kube.kubeconfig),
            "namespaces": [self.namespace],
            "lease_namespace": self.namespace,
            "lease_duration_seconds": 3.0,
            "renew_deadline_seconds": 2.0,
            "retry_period_seconds": 0.5,
            "health_port": 0,
            "health_host": "127.0.0.1",
            "deletion_poll_seconds": 1.0,
            "error_backoff_initial": 0.2,
            "error_backoff_max": 2.0,
            "temporal_ui_url": "http://localhost:8233",
            "workers": 8,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    async def start(self, watcher_factory: WatcherFactory = ExperimentWatcher, **overrides: Any) -> Gateway:
        gateway = Gateway(self.settings(**overrides), self.temporal, watcher_factory=watcher_factory)
        self.running[gateway] = asyncio.create_task(gateway.run(), name=f"gateway-{gateway.settings.identity}")
        return gateway

    async def leading(self, gateway: Gateway, timeout: float = 60.0) -> None:
        await eventually_async(
            lambda: gateway.leading and gateway._readyz()[0], timeout, "gateway leading and synced", blocking=False
        )

    async def stop(self, gateway: Gateway, release_lease: bool = True) -> None:
        gateway.elector.release_on_exit = release_lease
        task = self.running.pop(gateway)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def kill(self, gateway: Gateway) -> None:
        """Like SIGKILL for leadership: the Lease is left to expire."""
        await self.stop(gateway, release_lease=False)

    async def stop_all(self) -> None:
        for gateway in list(self.running):
            await self.stop(gateway)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal(temporal_env: WorkflowEnvironment) -> Client:
    await register_search_attributes(temporal_env.client)
    return temporal_env.client


@pytest_asyncio.fixture(loop_scope="session")
async def lab(temporal: Client) -> AsyncIterator[FakeLab]:
    """The real ExperimentWorkflow with the fake lab's activities on the ``experiments`` queue."""
    fake = FakeLab()
    async with build_worker(temporal, fake.activities()):
        yield fake


@pytest_asyncio.fixture(loop_scope="session")
async def cluster(kube: KubeCluster, kube_namespace: str, temporal: Client) -> AsyncIterator[Cluster]:
    view = Cluster(kube, kube_namespace, temporal)
    yield view
    await view.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def gateways(kube: KubeCluster, kube_namespace: str, temporal: Client) -> AsyncIterator[Gateways]:
    runner = Gateways(kube, kube_namespace, temporal)
    yield runner
    await runner.stop_all()


@pytest.fixture(autouse=True)
def no_gateway_threads_left() -> Iterator[None]:
    """Every gateway a test started has joined its watch threads and shut its thread pool down."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith(("watch-", "gateway-kube"))]
    assert left == [], f"threads left running: {left}"
