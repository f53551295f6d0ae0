"""Provision: one Crossplane claim per target, all targets in parallel, each waited for until Ready.

The first target that fails stops the others (their claims are cleaned up later, like every claim).
"""

from __future__ import annotations

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.concurrency import all_or_first_failure
from workflows.lifecycle import Lifecycle
from workflows.progress import Stage

with workflow.unsafe.imports_passed_through():
    from activities.clusters.contracts import (
        PROVISION_CLUSTER,
        WAIT_FOR_CLUSTER_READY,
        ProvisionClusterInput,
        ProvisionedCluster,
        ReadyCluster,
        WaitForClusterInput,
    )
    from api import names
    from api.experiment import ConditionStatus, ExperimentPhase, Target
    from workflows import policies
    from workflows.status import PROVISIONED


async def provision_clusters(life: Lifecycle) -> None:
    targets = ", ".join(t.name for t in life.spec.targets)
    life.enter(ExperimentPhase.PROVISIONING, "Provisioning", f"provisioning clusters for targets {targets}")
    life.progress.reach(Stage.PROVISIONING)
    budget = PhaseBudget("provisioning", life.spec.deadline("provisioning"))
    try:
        await all_or_first_failure([_provision_target(life, t, budget) for t in life.spec.targets])
    except ExperimentFailed as failure:
        life.condition(PROVISIONED, ConditionStatus.FALSE, failure.reason, failure.message)
        raise
    life.condition(PROVISIONED, ConditionStatus.TRUE, "ClustersReady", f"clusters ready: {targets}")


async def _provision_target(life: Lifecycle, target: Target, budget: PhaseBudget) -> None:
    claim = names.cluster_name(life.experiment, target.name, target.cluster.type)
    try:
        with life.hub_call():
            created = await call(
                PROVISION_CLUSTER,
                ProvisionClusterInput(experiment=life.experiment, target=target.name, cluster=target.cluster),
                ProvisionedCluster,
                policies.cloud_call(budget.remaining()),
                budget,
                f"cluster {claim} of target {target.name} to be requested",
            )
        life.book.update_target(
            target.name,
            phase="Provisioning",
            cluster_name=created.cluster_name,
            machine_type=created.machine_type,
            node_count=created.node_count,
        )
        ready = await call(
            WAIT_FOR_CLUSTER_READY,
            WaitForClusterInput(
                experiment=life.experiment,
                target=target.name,
                cluster_type=target.cluster.type,
                cluster_name=created.cluster_name,
            ),
            ReadyCluster,
            policies.long_wait(budget.remaining()),
            budget,
            f"cluster {created.cluster_name} of target {target.name} to become Ready",
        )
    except ExperimentFailed:
        life.book.update_target(target.name, phase="Failed")
        raise
    life.book.update_target(
        target.name, phase="Ready", endpoint=ready.endpoint, kubeconfig_secret=ready.kubeconfig_secret
    )
