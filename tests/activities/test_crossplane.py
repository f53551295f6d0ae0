"""Cluster provisioning: claims as the original made them, idempotent retries, readiness and its plumbing."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from kubernetes import client
from temporalio.exceptions import ApplicationError

from activities.clusters.cloud_access import target_client
from activities.clusters.contracts import ProvisionClusterInput, ProvisionedCluster, WaitForClusterInput
from activities.clusters.provisioning import provision_cluster, wait_for_cluster_ready
from activities.settings import ActivitySettings
from api import names
from api.experiment import ClusterSpec
from tests.activities.conftest import Lab, crash_after, create_experiment, gke_spec, run

pytestmark = pytest.mark.kube


def claims(lab: Lab, plural: str, experiment: str) -> list[dict[str, Any]]:
    listing: Any = lab.custom().list_namespaced_custom_object(
        "illm.io", "v1alpha1", "experiments", plural, label_selector=f"experiments.illm.io/experiment={experiment}"
    )
    return list(listing["items"])


@pytest.mark.asyncio
async def test_gke_claim_has_the_original_name_labels_and_defaults(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    cluster = ClusterSpec(type="gke", preemptible=True)
    result = await run(provision_cluster, ProvisionClusterInput(experiment=ref, target="app", cluster=cluster))

    assert result == ProvisionedCluster(
        target="app", cluster_name=names.claim_name(ref, "app"), machine_type="e2-medium", node_count=1
    )
    [claim] = claims(lab, "gkeclusters", ref.name)
    assert claim["kind"] == "GKECluster"
    assert claim["metadata"]["name"] == names.claim_name(ref, "app")
    assert claim["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "experiment-operator"
    assert claim["metadata"]["labels"]["experiments.illm.io/cluster"] == names.claim_name(ref, "app")
    assert claim["metadata"]["labels"]["experiments.illm.io/experiment-uid"] == ref.uid
    assert claim["spec"] | {"resourceRef": None} == {
        "zone": "us-central1-a",
        "nodeCount": 1,
        "machineType": "e2-medium",
        "diskSizeGb": 50,
        "preemptible": True,
        "clusterName": names.cloud_cluster_name(ref, "app", "gke"),
        "resourceRef": None,
    }


@pytest.mark.asyncio
async def test_cluster_is_never_requested_twice_when_the_worker_crashes(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    provision = ProvisionClusterInput(experiment=ref, target="app", cluster=ClusterSpec(type="gke"))
    first = await run(provision_cluster, provision)
    [claim] = claims(lab, "gkeclusters", ref.name)
    wait = WaitForClusterInput(experiment=ref, target="app", cluster_type="gke", cluster_name=first.cluster_name)
    await crash_after(wait_for_cluster_ready, wait, lambda: True, watches=lab.watches)

    again = await run(provision_cluster, provision)  # the retry starts from scratch
    ready = await run(wait_for_cluster_ready, wait, watches=lab.watches)

    assert again == first
    [same] = claims(lab, "gkeclusters", ref.name)
    assert same["metadata"]["uid"] == claim["metadata"]["uid"]
    assert ready.endpoint == lab.kube.control_plane.server.removeprefix("https://")


@pytest.mark.asyncio
async def test_long_experiment_and_target_names_get_a_claim_and_a_cloud_name_that_fit(
    lab: Lab, kube_namespace: str
) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec(), name="observability-cost-tutorial-" + "x" * 200)
    long_target = "a-rather-long-target-name-" + "t" * 37
    made = await run(
        provision_cluster,
        ProvisionClusterInput(experiment=ref, target=long_target, cluster=ClusterSpec(type="gke")),
    )
    [claim] = claims(lab, "gkeclusters", names.experiment_label(ref))
    assert claim["metadata"]["name"] == made.cluster_name and len(made.cluster_name) <= 63
    assert claim["spec"]["clusterName"] == names.cloud_cluster_name(ref, long_target, "gke")
    assert len(claim["spec"]["clusterName"]) <= 40


@pytest.mark.asyncio
async def test_eks_and_aks_claims_use_their_own_kinds_and_defaults(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    eks = await run(
        provision_cluster,
        ProvisionClusterInput(experiment=ref, target="e", cluster=ClusterSpec(type="eks", spot=True)),
    )
    aks = await run(
        provision_cluster, ProvisionClusterInput(experiment=ref, target="a", cluster=ClusterSpec(type="aks"))
    )

    assert (eks.machine_type, aks.machine_type) == ("t3.medium", "Standard_B2s")
    [eks_claim] = claims(lab, "eksclusters", ref.name)
    [aks_claim] = claims(lab, "aksclusters", ref.name)
    assert eks_claim["spec"]["region"] == "us-east-1" and eks_claim["spec"]["spot"] is True
    assert aks_claim["spec"]["region"] == "eastus" and aks_claim["spec"]["vmSize"] == "Standard_B2s"
    for claim in (eks, aks):
        wait = WaitForClusterInput(
            experiment=ref,
            target=claim.target,
            cluster_type="eks" if claim.target == "e" else "aks",
            cluster_name=claim.cluster_name,
        )
        assert (await run(wait_for_cluster_ready, wait, watches=lab.watches)).endpoint


@pytest.mark.asyncio
async def test_hub_target_provisions_nothing(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec([{"name": "hub", "cluster": {"type": "hub"}}]))
    made = await run(
        provision_cluster, ProvisionClusterInput(experiment=ref, target="hub", cluster=ClusterSpec(type="hub"))
    )
    ready = await run(
        wait_for_cluster_ready,
        WaitForClusterInput(experiment=ref, target="hub", cluster_type="hub", cluster_name=made.cluster_name),
        watches=lab.watches,
    )
    assert made.cluster_name == "hub" and ready.endpoint is None
    assert claims(lab, "gkeclusters", ref.name) == []


@pytest.mark.asyncio
async def test_ready_cluster_gets_rbac_and_a_tutorial_kubeconfig_owned_by_the_experiment(
    lab: Lab, kube_namespace: str
) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec(tutorial={"exposeKubeconfig": True}))
    made = await run(
        provision_cluster, ProvisionClusterInput(experiment=ref, target="app", cluster=ClusterSpec(type="gke"))
    )
    ready = await run(
        wait_for_cluster_ready,
        WaitForClusterInput(experiment=ref, target="app", cluster_type="gke", cluster_name=made.cluster_name),
        watches=lab.watches,
    )

    assert ready.kubeconfig_secret == names.kubeconfig_secret(ref, "app")
    secret = lab.core().read_namespaced_secret(ready.kubeconfig_secret, kube_namespace)
    assert secret.metadata.labels == {
        "experiment": ref.name,
        "target": "app",
        "app.kubernetes.io/managed-by": "experiment-operator",
        "experiments.illm.io/experiment": ref.name,
        "experiments.illm.io/experiment-uid": ref.uid,
    }
    assert [(o.kind, o.uid) for o in secret.metadata.owner_references] == [("Experiment", ref.uid)]
    with target_client(base64.b64decode(secret.data["kubeconfig"]).decode(), ActivitySettings()) as api:
        assert client.CoreV1Api(api).read_namespace(kube_namespace).metadata.name == kube_namespace
    binding = client.RbacAuthorizationV1Api(lab.kube.api_client()).read_cluster_role_binding("experiment-client-admin")
    assert binding.role_ref.name == "cluster-admin"
    assert lab.kube.control_plane.admin_token not in ready.model_dump_json()  # credentials stay on the hub


@pytest.mark.asyncio
async def test_provisioning_failure_is_permanent(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec(), annotations={"labsim.illm.io/fault": "provision-fail"})
    made = await run(
        provision_cluster, ProvisionClusterInput(experiment=ref, target="app", cluster=ClusterSpec(type="gke"))
    )
    wait = WaitForClusterInput(experiment=ref, target="app", cluster_type="gke", cluster_name=made.cluster_name)
    with pytest.raises(ApplicationError, match="quota exceeded") as caught:
        await asyncio.wait_for(run(wait_for_cluster_ready, wait, watches=lab.watches), timeout=15)
    assert caught.value.type == "ClusterFailed" and caught.value.non_retryable
