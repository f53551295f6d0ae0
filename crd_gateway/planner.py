"""The gateway's decisions: (Experiment as observed, workflow as described, the time) → actions. Pure.

No I/O, no clock, no randomness: every input is in the arguments, so the whole decision table is
tested without a cluster (tests/gateway/test_planner.py). The executor performs the actions in
order and stops at the first failure; the next reconcile plans again from what is then observed.

Rules, in order:
1. Deleting: no finalizer → nothing. Workflow closed or never started → remove the finalizer at
   once. Otherwise the finalizer is held, and a ``Deleting`` condition says for what and until when:
   workflow running → cancel it once and wait until it closes (its cleanup runs before it closes);
   workflow unreachable → retry. The hold ends at the release time (deletion time + the
   Experiment's cleanup deadline + the gateway's grace): then the finalizer is released anyway and
   what may be left is recorded. A running workflow keeps cleaning up after the object is gone.
2. Temporal unreachable → only add the finalizer; retry later.
3. No workflow yet → fail an unparsable spec (no workflow); otherwise add the finalizer, then start.
   A workflow that ran and vanished, with the Experiment unfinished, is reported lost.
4. Workflow alive → re-add a removed finalizer; pass new review/complete annotations on as updates.
   Workflow closed while the Experiment is unfinished (terminated, or its last report lost) → Failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from api.experiment import (
    COMPLETE_ANNOTATION,
    DEFAULT_DEADLINES,
    REVIEW_ANNOTATION,
    ClusterType,
    ConditionStatus,
    ExperimentPhase,
    ExperimentStatus,
)
from api.names import (
    ARGO_WORKFLOWS_NAMESPACE,
    ARGOCD_NAMESPACE,
    CLAIM_NAMESPACE,
    EXPERIMENT_UID_LABEL,
    argo_workflow_name,
    claim_name,
    workload_namespace,
)
from crd_gateway.observe import COMPLETE_REQUEST as COMPLETE_REQUEST
from crd_gateway.observe import DELETING as DELETING
from crd_gateway.observe import (
    FINISHED,
    ObservedExperiment,
    ObservedWorkflow,
    WorkflowState,
)
from crd_gateway.observe import REVIEW_REQUEST as REVIEW_REQUEST
from workflows.messages import ReviewDecision
from workflows.status import CLEANUP

READY = "Ready"
GATEWAY_CONDITIONS = (REVIEW_REQUEST, COMPLETE_REQUEST, DELETING)
"""Condition types only the gateway writes; status reports from the workflow keep them."""

REVIEW_VALUES = {"approved": ReviewDecision.APPROVE, "rejected": ReviewDecision.REJECT}
COMPLETE_VALUES = ("true",)

# ------------------------------------------------------------------------------------ actions


@dataclass(frozen=True)
class AddFinalizer:
    pass


@dataclass(frozen=True)
class StartWorkflow:
    pass


@dataclass(frozen=True)
class SendReview:
    value: str
    decision: ReviewDecision


@dataclass(frozen=True)
class SendComplete:
    value: str


@dataclass(frozen=True)
class CancelWorkflow:
    pass


@dataclass(frozen=True)
class WaitForWorkflowClose:
    """Reconcile again as soon as the workflow closes (and, as a fallback, every deletion poll)."""


@dataclass(frozen=True)
class ConditionUpdate:
    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class PatchStatus:
    """Set conditions (and the phase); a phase is only set while the stored phase is unfinished."""

    conditions: tuple[ConditionUpdate, ...]
    phase: ExperimentPhase | None = None


@dataclass(frozen=True)
class RecordLeftovers:
    """The finalizer goes before cleanup was seen to finish: say (Event + log) what may be left."""

    message: str


@dataclass(frozen=True)
class RemoveFinalizer:
    pass


Action = (
    AddFinalizer
    | StartWorkflow
    | SendReview
    | SendComplete
    | CancelWorkflow
    | WaitForWorkflowClose
    | PatchStatus
    | RecordLeftovers
    | RemoveFinalizer
)


class Requeue(StrEnum):
    NO = "no"
    CLEANUP_POLL = "cleanup-poll"
    """Waiting for a cancelled workflow's cleanup."""
    BACKOFF = "backoff"
    """Something we depend on did not answer; retry with the per-key error backoff."""


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    requeue: Requeue = Requeue.NO


# ------------------------------------------------------------------------------------ planner


def plan(experiment: ObservedExperiment, workflow: ObservedWorkflow, now: datetime, deletion_grace: timedelta) -> Plan:
    """``deletion_grace``: how long past the Experiment's cleanup deadline a deletion may be held."""
    if experiment.deletion_timestamp is not None:
        return _plan_deletion(experiment, workflow, experiment.deletion_timestamp, now, deletion_grace)
    if workflow.state == WorkflowState.UNREACHABLE:
        guard = () if experiment.has_finalizer or experiment.spec is None else (AddFinalizer(),)
        return Plan(guard, Requeue.BACKOFF)
    if workflow.state == WorkflowState.NOT_FOUND:
        return _plan_start(experiment)
    actions: list[Action] = []
    if workflow.state == WorkflowState.RUNNING and not experiment.has_finalizer:
        actions.append(AddFinalizer())
    if workflow.state == WorkflowState.CLOSED and experiment.status.phase not in FINISHED:
        actions.append(_closed_without_report(experiment, workflow))
    actions += _annotation_actions(experiment, workflow)
    return Plan(tuple(actions))


def _plan_deletion(
    experiment: ObservedExperiment, workflow: ObservedWorkflow, since: datetime, now: datetime, grace: timedelta
) -> Plan:
    if not experiment.has_finalizer:
        return Plan()
    if workflow.state in (WorkflowState.CLOSED, WorkflowState.NOT_FOUND):
        return Plan((RemoveFinalizer(),))
    running = workflow.state == WorkflowState.RUNNING
    cancel: tuple[Action, ...] = (CancelWorkflow(),) if running and not workflow.cancel_requested else ()
    release_at = _release_time(experiment, since, grace)
    if now >= release_at:
        return Plan((*cancel, RecordLeftovers(_leftovers(experiment, workflow, since)), RemoveFinalizer()))
    hold = _hold_condition(experiment, workflow, since, release_at)
    if not running:
        return Plan(hold, Requeue.BACKOFF)
    return Plan((*hold, *cancel, WaitForWorkflowClose()), Requeue.CLEANUP_POLL)


def _release_time(experiment: ObservedExperiment, since: datetime, grace: timedelta) -> datetime:
    """When a deleted Experiment's finalizer goes even if its workflow has not closed: by its cleanup
    deadline the workflow has given up on cleanup and reported what is left; ``grace`` covers the rest
    of its end (closing a pending PR, the last status report)."""
    cleanup = experiment.spec.deadline("cleanup") if experiment.spec else DEFAULT_DEADLINES["cleanup"]
    return since + cleanup + grace


def _hold_condition(
    experiment: ObservedExperiment, workflow: ObservedWorkflow, since: datetime, release_at: datetime
) -> tuple[Action, ...]:
    """The ``Deleting`` condition, unless the stored one already says the same."""
    wid = experiment.workflow_id
    if workflow.state == WorkflowState.RUNNING:
        reason, what = "WaitingForCleanup", f"waiting for workflow {wid} to delete what the experiment created"
    else:
        reason, what = "TemporalUnreachable", f"Temporal does not answer; whether workflow {wid} cleaned up is unknown"
    message = f"{what}; deleting since {_stamp(since)}; the finalizer is released at {_stamp(release_at)} at the latest"
    stored = experiment.status.condition(DELETING)
    if stored is not None and (stored.status, stored.reason, stored.message) == (ConditionStatus.TRUE, reason, message):
        return ()
    return (PatchStatus((ConditionUpdate(DELETING, ConditionStatus.TRUE, reason, message),)),)


def _leftovers(experiment: ObservedExperiment, workflow: ObservedWorkflow, since: datetime) -> str:
    wid = experiment.workflow_id
    if workflow.state == WorkflowState.RUNNING:
        state = f"workflow {wid} has not finished its cleanup (it goes on without the object)"
    else:
        state = f"Temporal did not answer ({workflow.error}); whether workflow {wid} cleaned up is unknown"
    return f"finalizer released, deleting since {_stamp(since)}: {state}; {_what_may_be_left(experiment)}"


def _what_may_be_left(experiment: ObservedExperiment) -> str:
    """The objects the workflow's cleanup deletes, named the way it names them (api.names)."""
    cleanup = experiment.status.condition(CLEANUP)
    if cleanup is not None and cleanup.status == ConditionStatus.FALSE:
        return f"its last cleanup report: {cleanup.message}"
    name = experiment.name
    if experiment.spec is None:
        return f"check for objects named after {name}"
    claims = [claim_name(experiment, t.name) for t in experiment.spec.targets if t.cluster.type != ClusterType.HUB]
    parts = [f"cluster claim {CLAIM_NAMESPACE}/{claim}" for claim in claims]
    parts.append(f"ArgoCD Applications in {ARGOCD_NAMESPACE} labelled {EXPERIMENT_UID_LABEL}={experiment.uid}")
    parts.append(f"Argo workflow {ARGO_WORKFLOWS_NAMESPACE}/{argo_workflow_name(experiment)}")
    parts.append(f"hub namespace {workload_namespace(experiment)}")
    return "possibly left: " + "; ".join(parts)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan_start(experiment: ObservedExperiment) -> Plan:
    status = experiment.status
    if status.phase in FINISHED:
        return Plan()
    if status.temporal is not None and status.temporal.workflow_id == experiment.workflow_id:
        lost = f"workflow {experiment.workflow_id} no longer exists in Temporal; the experiment cannot continue"
        return Plan((_fail("WorkflowLost", lost),))
    if experiment.spec is None:
        return Plan((_fail("InvalidSpec", f"the stored spec cannot be read: {experiment.spec_error}"),))
    guard = () if experiment.has_finalizer else (AddFinalizer(),)
    return Plan((*guard, StartWorkflow()))


def _closed_without_report(experiment: ObservedExperiment, workflow: ObservedWorkflow) -> PatchStatus:
    how = workflow.close_status or "Closed"
    return _fail(
        f"Workflow{how}",
        f"workflow {experiment.workflow_id} ended {how} without reporting a final status",
    )


def _fail(reason: str, message: str) -> PatchStatus:
    return PatchStatus((ConditionUpdate(READY, ConditionStatus.FALSE, reason, message),), ExperimentPhase.FAILED)


# -------------------------------------------------------------------------------- annotations


def annotation_marker(annotation: str, value: str) -> str:
    """How a request condition's message starts; it records which annotation value was handled."""
    return f"{annotation}={value}: "


def already_handled(status: ExperimentStatus, condition_type: str, annotation: str, value: str) -> bool:
    condition = status.condition(condition_type)
    return condition is not None and condition.message.startswith(annotation_marker(annotation, value))


def _annotation_actions(experiment: ObservedExperiment, workflow: ObservedWorkflow) -> list[Action]:
    actions: list[Action] = []
    review = experiment.annotations.get(REVIEW_ANNOTATION)
    if review is not None and not already_handled(experiment.status, REVIEW_REQUEST, REVIEW_ANNOTATION, review):
        decision = REVIEW_VALUES.get(review.strip().lower())
        if decision is None:
            actions.append(
                _refuse(REVIEW_REQUEST, REVIEW_ANNOTATION, review, "InvalidValue", "use approved or rejected")
            )
        elif workflow.state == WorkflowState.CLOSED:
            actions.append(_refuse(REVIEW_REQUEST, REVIEW_ANNOTATION, review, "WorkflowClosed", "the workflow ended"))
        else:
            actions.append(SendReview(review, decision))
    complete = experiment.annotations.get(COMPLETE_ANNOTATION)
    if complete is not None and not already_handled(experiment.status, COMPLETE_REQUEST, COMPLETE_ANNOTATION, complete):
        if complete.strip().lower() not in COMPLETE_VALUES:
            actions.append(_refuse(COMPLETE_REQUEST, COMPLETE_ANNOTATION, complete, "InvalidValue", "use true"))
        elif workflow.state == WorkflowState.CLOSED:
            actions.append(
                _refuse(COMPLETE_REQUEST, COMPLETE_ANNOTATION, complete, "WorkflowClosed", "the workflow ended")
            )
        else:
            actions.append(SendComplete(complete))
    return actions


def _refuse(condition_type: str, annotation: str, value: str, reason: str, why: str) -> PatchStatus:
    message = annotation_marker(annotation, value) + why
    return PatchStatus((ConditionUpdate(condition_type, ConditionStatus.FALSE, reason, message),))
