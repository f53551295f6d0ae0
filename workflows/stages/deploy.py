"""Deploy: ArgoCD applications on every target, following ``depends`` (a target waits for the ones it
depends on to be healthy); with observability, the infra/obs layers before the workload.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.concurrency import all_or_first_failure
from workflows.lifecycle import Lifecycle
from workflows.progress import Stage

with workflow.unsafe.imports_passed_through():
    from activities.deploy.contracts import DEPLOY_APPLICATIONS, DeployApplicationsInput, DeployedApplications, Layer
    from api import names
    from api.experiment import ConditionStatus, ExperimentPhase, Target
    from workflows import policies
    from workflows.status import DEPLOYED


async def deploy_applications(life: Lifecycle) -> None:
    life.enter(ExperimentPhase.READY, "Deploying", "clusters ready; deploying applications")
    life.progress.reach(Stage.DEPLOYING)
    budget = PhaseBudget("deploying", life.spec.deadline("deploying"))
    healthy: set[str] = set()
    try:
        await all_or_first_failure([_deploy_target(life, t, healthy, budget) for t in life.spec.targets])
    except ExperimentFailed as failure:
        life.condition(DEPLOYED, ConditionStatus.FALSE, failure.reason, failure.message)
        raise
    life.condition(DEPLOYED, ConditionStatus.TRUE, "ApplicationsHealthy", "all applications healthy")


async def _deploy_target(life: Lifecycle, target: Target, healthy: set[str], budget: PhaseBudget) -> None:
    """Deploy once every target in ``depends`` is in ``healthy``; then add this one."""
    depends = target.depends or []
    await workflow.wait_condition(lambda: all(d in healthy for d in depends))
    obs = target.observability
    layered = bool(obs and obs.enabled and target.cluster.type != "hub")
    first: list[Layer] = []
    if layered and obs:
        first = ["infra", "obs"] if obs.transport == "tailscale" else ["obs"]
    deployed: list[str] = []
    components: list[str] = []
    for group in ([first] if first else []) + ([["workload"]] if target.components or not layered else []):
        results = await asyncio.gather(*(_deploy_layer(life, target, layer, layered, budget) for layer in group))
        deployed += group
        components += [x for r in results for x in r.components]
        life.book.update_target(target.name, deployed_layers=list(deployed), components=components or None)
    life.book.update_target(target.name, apps_created=True)
    healthy.add(target.name)


async def _deploy_layer(
    life: Lifecycle, target: Target, layer: Layer, layered: bool, budget: PhaseBudget
) -> DeployedApplications:
    status = life.book.target(target.name)
    app = names.app_name(life.experiment, target.name, layer if layered else "workload")
    return await call(
        DEPLOY_APPLICATIONS,
        DeployApplicationsInput(
            experiment=life.experiment,
            target=target,
            cluster_name=status.cluster_name or "",
            endpoint=status.endpoint,
            layer=layer,
            layered=layered,
        ),
        DeployedApplications,
        policies.long_wait(budget.remaining()),
        budget,
        f"ArgoCD application {app} to become healthy",
    )
