"""Cluster provisioning through Crossplane claims: GKECluster (as the original), EKSCluster and AKSCluster.

A claim ``<exp>-<target>-<hash>`` (api.names) in namespace ``experiments`` is the whole request; its composition (see
``platform/crossplane/``) makes the cloud cluster and a connection Secret
``experiment-connections/<xr>-cluster-conn`` whose ``kubeconfig`` key is read here, inside the activity, and
never returned. Creating is idempotent: a retried attempt finds the claim (annotated with the
Experiment's uid) and never asks for a second cluster. The hub is not provisioned.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError

from activities.clusters import target_plumbing
from activities.clusters.claims import (
    CLAIM_GROUP,
    CLAIM_VERSION,
    ClaimKind,
    claim_kind,
    read_kubeconfig,
    watched_claims,
)
from activities.clusters.contracts import ProvisionClusterInput, ProvisionedCluster, ReadyCluster, WaitForClusterInput
from activities.contracts import ExperimentRef
from activities.errors import ClusterFailed, ClusterRequestRejected
from activities.heartbeating import heartbeating
from activities.kube import (
    CLUSTER_LABEL,
    EXPERIMENT_UID_ANNOTATION,
    TARGET_LABEL,
    CustomObjects,
    experiment_labels,
    hub_client,
    is_conflict,
    reason_of,
)
from activities.settings import ActivitySettings
from activities.watches import HubWatches, Obj, Waiting
from api import names
from api.experiment import ClusterSpec, ClusterType


def claim_spec(cluster: ClusterSpec) -> tuple[dict[str, Any], str, int]:
    """The claim spec with the original's defaults (GKE) or ours (EKS, AKS); also the effective size."""
    nodes = cluster.node_count or 1
    disk = cluster.disk_size_gb or 50
    if cluster.type == ClusterType.GKE:
        machine = cluster.machine_type or "e2-medium"
        zone = cluster.zone or "us-central1-a"
        spec = {"zone": zone, "machineType": machine, "preemptible": bool(cluster.preemptible)}
    elif cluster.type == ClusterType.EKS:
        machine = cluster.instance_type or "t3.medium"
        spec = {"region": cluster.region or "us-east-1", "instanceType": machine, "spot": bool(cluster.spot)}
    else:
        machine = cluster.vm_size or "Standard_B2s"
        spec = {"region": cluster.region or "eastus", "vmSize": machine, "spot": bool(cluster.spot)}
    return {**spec, "nodeCount": nodes, "diskSizeGb": disk}, machine, nodes


def build_claim(ref: ExperimentRef, target: str, cluster: ClusterSpec) -> dict[str, Any]:
    """The claim ``<exp>-<target>-<hash>``; ``spec.clusterName`` is the cloud's name for the cluster.

    Both are derived from the Experiment's identity and always fit (api.names): the compositions name
    the cloud cluster from ``spec.clusterName`` instead of from the claim.
    """
    name = names.claim_name(ref, target)
    spec, _, _ = claim_spec(cluster)
    spec["clusterName"] = names.cloud_cluster_name(ref, target, cluster.type)
    return {
        "apiVersion": f"{CLAIM_GROUP}/{CLAIM_VERSION}",
        "kind": claim_kind(cluster.type).kind,
        "metadata": {
            "name": name,
            "namespace": names.CLAIM_NAMESPACE,
            "labels": {**experiment_labels(ref), CLUSTER_LABEL: name, TARGET_LABEL: target},
            "annotations": {EXPERIMENT_UID_ANNOTATION: ref.uid},
        },
        "spec": spec,
    }


async def provision_cluster(inp: ProvisionClusterInput, settings: ActivitySettings) -> ProvisionedCluster:
    """Request the cluster (or find the earlier request). Permanent: name too long, claim rejected."""
    cluster = inp.cluster
    if cluster.type == ClusterType.HUB:
        return ProvisionedCluster(target=inp.target, cluster_name=names.HUB_CLUSTER_NAME)
    claim = build_claim(inp.experiment, inp.target, cluster)
    await asyncio.to_thread(_ensure_claim, settings, claim, claim_kind(cluster.type))
    _, machine, nodes = claim_spec(cluster)
    return ProvisionedCluster(
        target=inp.target, cluster_name=claim["metadata"]["name"], machine_type=machine, node_count=nodes
    )


def _ensure_claim(settings: ActivitySettings, claim: dict[str, Any], kind: ClaimKind) -> None:
    name, uid = claim["metadata"]["name"], claim["metadata"]["annotations"][EXPERIMENT_UID_ANNOTATION]
    with hub_client(settings) as api:
        custom = CustomObjects(api)
        try:
            custom.create(CLAIM_GROUP, CLAIM_VERSION, names.CLAIM_NAMESPACE, kind.plural, claim)
            return
        except ApiException as exc:
            if exc.status in (400, 422):
                raise ClusterRequestRejected(f"{kind.kind} {name} rejected: {reason_of(exc)}") from exc
            if not is_conflict(exc):
                raise
        existing = custom.get(CLAIM_GROUP, CLAIM_VERSION, names.CLAIM_NAMESPACE, kind.plural, name)
    owner = (existing["metadata"].get("annotations") or {}).get(EXPERIMENT_UID_ANNOTATION)
    if existing["metadata"].get("deletionTimestamp"):
        raise ApplicationError(f"{kind.kind} {name} of an earlier experiment is still being deleted", type="Busy")
    if owner != uid:
        raise ClusterRequestRejected(f"{kind.kind} {name} already exists and belongs to another experiment ({owner})")


async def wait_for_cluster_ready(
    inp: WaitForClusterInput, settings: ActivitySettings, watches: HubWatches
) -> ReadyCluster:
    """Wait (woken by the claims' watch) for claim Ready, then bootstrap RBAC and write the tutorial
    kubeconfig Secret if asked for.

    Permanent: the claim vanished, or it reported ReconcileError for longer than the failure grace.
    """
    if inp.cluster_type == ClusterType.HUB:
        return ReadyCluster(target=inp.target)
    kind = claim_kind(inp.cluster_type)
    failing_since: list[float] = []

    def check(claim: Obj | None) -> str | Waiting:
        return _claim_endpoint(claim, kind, inp.cluster_name, failing_since, settings)

    endpoint = await watches.until(watched_claims(kind), inp.cluster_name, check)
    plumbing = asyncio.to_thread(_plumb_ready_cluster, settings, inp, watches)
    secret = await heartbeating(plumbing, f"bootstrapping RBAC on {inp.cluster_name}")
    return ReadyCluster(target=inp.target, endpoint=endpoint, kubeconfig_secret=secret)


def _claim_endpoint(
    claim: Obj | None, kind: ClaimKind, name: str, failing_since: list[float], settings: ActivitySettings
) -> str | Waiting:
    if claim is None:
        raise ClusterFailed(f"{kind.kind} {name} disappeared while waiting for it to become Ready")
    status = claim.get("status") or {}
    conditions = {x.get("type"): x for x in status.get("conditions") or []}
    ready, synced = conditions.get("Ready") or {}, conditions.get("Synced") or {}
    if ready.get("status") == "True" and status.get("endpoint"):
        return str(status["endpoint"])
    if synced.get("status") == "False" and synced.get("reason") == "ReconcileError":
        failing_since[:] = failing_since or [time.monotonic()]
        grace_left = settings.cluster_failure_grace_seconds - (time.monotonic() - failing_since[0])
        if grace_left <= 0:
            raise ClusterFailed(f"{kind.kind} {name}: {synced.get('message') or 'ReconcileError'}")
        return Waiting(f"{kind.kind} {name}: ReconcileError: {synced.get('message', '')}", recheck_after=grace_left)
    failing_since.clear()
    return Waiting(f"{kind.kind} {name}: Ready={ready.get('status', 'Unknown')} {ready.get('reason', '')}".strip())


def _plumb_ready_cluster(settings: ActivitySettings, inp: WaitForClusterInput, watches: HubWatches) -> str | None:
    with hub_client(settings) as api:
        kubeconfig = read_kubeconfig(api, inp.cluster_type, inp.cluster_name, watches)
        target_plumbing.bootstrap_rbac(kubeconfig, settings)
        spec = target_plumbing.read_experiment_spec(api, inp.experiment)
        if spec and spec.tutorial and spec.tutorial.expose_kubeconfig:
            return target_plumbing.write_tutorial_kubeconfig(api, inp.experiment, inp.target, kubeconfig)
    return None
