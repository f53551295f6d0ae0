"""Least privilege: the gateway runs as the ServiceAccount of deploy/gateway/rbac.yaml and nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from activities.contracts import DeleteExperimentInput, ExperimentRef
from tests.fixtures.eventually import eventually_async
from tests.fixtures.kube import KubeCluster
from tests.gateway.conftest import Cluster, Gateways
from tests.workflow.fakes import FakeLab

pytestmark = pytest.mark.kube

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "gateway" / "rbac.yaml"
NAMESPACE = "experiment-operator-system"


def gateway_kubeconfig(kube: KubeCluster) -> Path:
    core = client.CoreV1Api(kube.api_client())
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}})
    except client.ApiException as err:
        if err.status != 409:
            raise
    applied = kube.kubectl("apply", "-f", str(RBAC))
    assert applied.returncode == 0, applied.stderr
    return kube.service_account_kubeconfig(NAMESPACE, "crd-gateway")


@pytest.mark.asyncio(loop_scope="session")
async def test_the_restricted_service_account_suffices(
    kube: KubeCluster, cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    kubeconfig = gateway_kubeconfig(kube)
    gateway = await gateways.start(kubeconfig=str(kubeconfig), lease_namespace=NAMESPACE)
    await gateways.leading(gateway)
    kept, deleted, expired = (cluster.create()["metadata"] for _ in range(3))
    for meta in (kept, deleted, expired):
        await eventually_async(lambda meta=meta: cluster.phase(meta["name"]) == "Complete", timeout=30)  # type: ignore[misc]
    # The event is recorded after the status patch that makes the phase Complete.
    await eventually_async(lambda: "PhaseComplete" in {e.reason for e in cluster.events(kept["name"])}, timeout=30)
    cluster.delete(deleted["name"])
    await eventually_async(lambda: cluster.get(deleted["name"]) is None, timeout=20)
    ref = ExperimentRef(
        namespace=cluster.namespace, name=expired["name"], uid=expired["uid"], creation_timestamp=datetime.now(UTC)
    )
    await gateway.writer.delete_experiment(DeleteExperimentInput(experiment=ref, reason="TTLExpired"))
    await eventually_async(lambda: cluster.get(expired["name"]) is None, timeout=20)
    assert gateway.controller._failures == {}
    await gateways.stop(gateway)

    lease = client.CoordinationV1Api(kube.api_client()).read_namespaced_lease("crd-gateway", NAMESPACE)
    assert lease.spec.holder_identity is None  # released on a clean stop


def test_the_service_account_may_do_nothing_else(kube: KubeCluster, kube_namespace: str) -> None:
    kubeconfig = gateway_kubeconfig(kube)

    def allowed(*args: str) -> bool:
        return kube.kubectl("auth", "can-i", *args, kubeconfig=kubeconfig).stdout.strip() == "yes"

    assert allowed("watch", "experiments.experiments.illm.io", "--all-namespaces")
    assert allowed("update", "experiments.experiments.illm.io", "--subresource=status", "-n", kube_namespace)
    assert allowed("create", "events", "-n", kube_namespace)
    assert allowed("update", "leases.coordination.k8s.io/crd-gateway", "-n", NAMESPACE)
    assert not allowed("create", "experiments.experiments.illm.io", "-n", kube_namespace)
    assert not allowed("update", "experiments.experiments.illm.io", "-n", kube_namespace)
    assert not allowed("get", "secrets", "-n", kube_namespace)
    assert not allowed("update", "leases.coordination.k8s.io/other", "-n", NAMESPACE)
    assert not allowed("create", "leases.coordination.k8s.io", "-n", kube_namespace)
    assert not allowed("list", "components.experiments.illm.io")
