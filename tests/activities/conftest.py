"""The activities against the real kube-apiserver with the lab simulator playing Crossplane, ArgoCD and Argo.

``lab`` (session): simulator CRDs and the Component catalog installed, the simulator running in a
thread, and the activities' settings pointed at the fixture's API server. ``experiment``: a real
Experiment object (unique name) in the test's namespace, so owner references and fault annotations
work as in the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio.testing import ActivityEnvironment

from activities.clusters.contracts import ProvisionClusterInput, ReadyCluster, WaitForClusterInput
from activities.contracts import ExperimentRef
from activities.deploy.contracts import DeployApplicationsInput, Layer
from activities.settings import ActivitySettings
from activities.watches import HubWatches
from api.base import API_GROUP, API_VERSION
from api.experiment import ExperimentSpec
from labctl.catalog import from_directory
from labctl.controlplane import install_crds
from labctl.lab.stack import ARGOCD_PROJECTS
from labsim import CRD_DIR, Simulator, SimulatorConfig
from labsim.identity import cloud_identity_env
from tests.fixtures.eventually import eventually, eventually_async
from tests.fixtures.kube import KubeCluster
from tests.fixtures.metrics import VictoriaMetrics

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
RESYNC_SECONDS = 3600.0
"""The simulator's safety-net resync, out of reach of any test: everything it does here, it does on a
watch event or on a timed requeue."""
SETTINGS_ENV = {
    "CLUSTER_FAILURE_GRACE_SECONDS": "0.5",
    "CLEANUP_WAIT_SECONDS": "30",
}


@dataclass
class Lab:
    kube: KubeCluster
    simulator: Simulator
    victoria_metrics: VictoriaMetrics
    watches: HubWatches
    """The hub watches the waiting activities share, as a worker's registry owns them."""

    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.kube.api_client())

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.kube.api_client())


@pytest.fixture(scope="session")
def lab(kube: KubeCluster, victoria_metrics: VictoriaMetrics) -> Iterator[Lab]:
    install_crds(kube.kubeconfig, sorted(CRD_DIR.glob("*.yaml")))
    _install_components(kube)
    _install_argocd_projects(kube)
    cloud_env = cloud_identity_env(kube.identity_port, kube.control_plane.data_dir / "gcloud")
    saved = {k: os.environ.get(k) for k in [*SETTINGS_ENV, *cloud_env, "HUB_KUBECONFIG"]}
    os.environ.update(SETTINGS_ENV | cloud_env | {"HUB_KUBECONFIG": str(kube.kubeconfig)})
    settings = SimulatorConfig(
        kubeconfig=kube.kubeconfig,
        victoria_metrics_url=victoria_metrics.url,
        provision_delay=0.5,
        delete_delay=0.3,
        sync_delay=0.3,
        workflow_duration=0.5,
        resync_interval=RESYNC_SECONDS,
        metrics_interval=0.5,
        slow_factor=20,
        identity_port=kube.identity_port,
    )
    simulator = Simulator(settings)
    try:
        with simulator.running():
            _warm_up(simulator)
            watches = HubWatches(ActivitySettings())
            try:
                yield Lab(kube, simulator, victoria_metrics, watches)
            finally:
                watches.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _warm_up(simulator: Simulator) -> None:
    """The first request for a freshly installed CRD takes about a second; let the simulator pay it."""
    eventually(lambda: simulator.synced, 120, "the simulator listed every kind it watches", interval=0.05)


def _install_components(kube: KubeCluster) -> None:
    custom = client.CustomObjectsApi(kube.api_client())
    for component in from_directory(REPO / "components").components.values():
        try:
            custom.create_cluster_custom_object(API_GROUP, API_VERSION, "components", component.to_wire())
        except ApiException as exc:
            if exc.status != 409:
                raise


def _install_argocd_projects(kube: KubeCluster) -> None:
    kube.kubectl("create", "namespace", "argocd")  # AlreadyExists when the simulator made it first
    applied = kube.kubectl("apply", "-f", str(ARGOCD_PROJECTS))
    assert applied.returncode == 0, applied.stderr


def unique_name(prefix: str = "e") -> str:
    """A fresh Experiment name (any length works: derived names always fit)."""
    return f"{prefix}{uuid.uuid4().hex[:7]}"


def create_experiment(
    lab: Lab, namespace: str, spec: dict[str, Any], annotations: dict[str, str] | None = None, name: str = ""
) -> ExperimentRef:
    name = name or unique_name()
    body = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Experiment",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": ExperimentSpec.model_validate(spec).to_wire(),
    }
    created: Any = lab.custom().create_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "experiments", body)
    meta = created["metadata"]
    return ExperimentRef(
        namespace=namespace,
        name=name,
        uid=meta["uid"],
        creation_timestamp=datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00")).astimezone(UTC),
    )


async def run(
    activity_fn: Callable[..., Awaitable[T]],
    arg: Any,
    settings: ActivitySettings | None = None,
    watches: HubWatches | None = None,
) -> T:
    """One activity attempt, as a worker would run it (heartbeats, cancellation), with ``settings`` or, as a
    worker started now would read them, the test environment's; a waiting activity gets ``watches``."""
    shared = [watches] if watches else []
    result: T = await ActivityEnvironment().run(activity_fn, arg, settings or ActivitySettings(), *shared)
    return result


async def crash_after(
    activity_fn: Callable[..., Awaitable[Any]], arg: Any, done: Callable[[], bool], watches: HubWatches | None = None
) -> None:
    """Start an attempt and kill it (cancel) once ``done()`` sees its side effect: a worker crash mid-activity."""
    task = asyncio.ensure_future(run(activity_fn, arg, watches=watches))
    await eventually_async(done, what="the attempt's side effect", interval=0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):  # the crashed attempt's outcome does not matter
        await task


def observed_gke_app() -> dict[str, Any]:
    """A GKE target running hello-app with the observability agent writing over Tailscale."""
    return {
        "name": "app",
        "cluster": {"type": "gke"},
        "components": [{"app": "hello-app"}],
        "observability": {"enabled": True, "transport": "tailscale"},
    }


def gke_spec(targets: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "targets": targets or [{"name": "app", "cluster": {"type": "gke"}, "components": [{"app": "hello-app"}]}],
        "workflow": {"template": "hello-app-validation", "completion": {"mode": "workflow"}},
        **extra,
    }


async def provisioned(lab: Lab, ref: ExperimentRef, spec: ExperimentSpec) -> dict[str, ReadyCluster]:
    """Provision and wait for every target, as the workflow's provisioning phase does."""
    from activities.clusters.provisioning import provision_cluster, wait_for_cluster_ready

    async def one(target: Any) -> ReadyCluster:
        made = await run(
            provision_cluster, ProvisionClusterInput(experiment=ref, target=target.name, cluster=target.cluster)
        )
        wait = WaitForClusterInput(
            experiment=ref, target=target.name, cluster_type=target.cluster.type, cluster_name=made.cluster_name
        )
        ready = await run(wait_for_cluster_ready, wait, watches=lab.watches)
        return ready.model_copy(update={"kubeconfig_secret": made.cluster_name})  # carries the cluster name

    results = await asyncio.gather(*(one(t) for t in spec.targets))
    return {r.target: r for r in results}


def deploy_input(
    ref: ExperimentRef, spec: ExperimentSpec, target: str, ready: ReadyCluster, layer: Layer = "workload"
) -> DeployApplicationsInput:
    t = spec.target(target)
    assert t is not None
    obs = t.observability
    return DeployApplicationsInput(
        experiment=ref,
        target=t,
        cluster_name=ready.kubeconfig_secret or "hub",
        endpoint=ready.endpoint,
        layer=layer,
        layered=bool(obs and obs.enabled and t.cluster.type != "hub"),
    )


def application(lab: Lab, name: str) -> dict[str, Any]:
    found: Any = lab.custom().get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name)
    return dict(found)
