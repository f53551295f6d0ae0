"""Cleanup: delete every cluster, application and workflow the experiment created, and report leftovers.

Runs once provisioning started, whatever happened after; ``cleanupPolicy: OnSuccess`` keeps a failed
experiment's resources for debugging until its TTL or its deletion (workflows/stages/ttl.py).
A failed cleanup is a condition; it never masks the failure that came before it.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.lifecycle import Lifecycle
from workflows.progress import Cleanup

with workflow.unsafe.imports_passed_through():
    from activities.contracts import CLEANUP_EXPERIMENT, CleanupInput, CleanupReport, CleanupTarget
    from api import names
    from api.experiment import CleanupPolicy, ConditionStatus, ExperimentPhase
    from workflows import policies
    from workflows.status import CLEANUP


async def cleanup_by_policy(life: Lifecycle) -> None:
    if not life.progress.cleanup_owed:
        return
    if life.book.phase == ExperimentPhase.FAILED and life.spec.cleanup_policy == CleanupPolicy.ON_SUCCESS:
        life.progress.cleanup = Cleanup.RETAINED
        ttl_at = life.ttl_at()
        until = "its deletion" if ttl_at is None else f"its TTL ({ttl_at})"
        life.condition(
            CLEANUP, ConditionStatus.FALSE, "RetainedForDebugging", f"cleanupPolicy OnSuccess: kept until {until}"
        )
        return
    await clean_up(life)


async def clean_up(life: Lifecycle) -> None:
    """Delete everything the experiment created; report leftovers. Never masks the original failure."""
    budget = PhaseBudget("cleanup", life.spec.deadline("cleanup"))
    targets = [
        CleanupTarget(
            name=t.name,
            cluster_type=t.cluster.type,
            cluster_name=names.cluster_name(life.experiment, t.name, t.cluster.type),
        )
        for t in life.spec.targets
    ]
    try:
        report = await call(
            CLEANUP_EXPERIMENT,
            CleanupInput(experiment=life.experiment, targets=targets),
            CleanupReport,
            policies.cleanup_call(budget.remaining()),
            budget,
            "cleanup of clusters, applications and workflows",
        )
    except ExperimentFailed as failure:
        report = CleanupReport(not_deleted=[f"cleanup did not finish: {failure.message}"])
    life.progress.cleanup = Cleanup.DONE
    life.progress.not_deleted = report.not_deleted
    if report.not_deleted:
        text = "could not delete: " + "; ".join(report.not_deleted)
        life.condition(CLEANUP, ConditionStatus.FALSE, "Incomplete", text)
        life.book.update(resources_cleaned=False)
    else:
        life.condition(CLEANUP, ConditionStatus.TRUE, "Cleaned", f"deleted {len(report.deleted)} objects")
        life.book.update(resources_cleaned=True)
