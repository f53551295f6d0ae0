"""The planner's decision table: every (phase × workflow state × deletion × finalizer × clock) combination."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api.experiment import (
    COMPLETE_ANNOTATION,
    REVIEW_ANNOTATION,
    Condition,
    ConditionStatus,
    ExperimentPhase,
    ExperimentStatus,
    TemporalRef,
)
from crd_gateway.observe import ObservedExperiment, ObservedWorkflow, WorkflowState
from crd_gateway.planner import (
    COMPLETE_REQUEST,
    DELETING,
    READY,
    REVIEW_REQUEST,
    AddFinalizer,
    CancelWorkflow,
    ConditionUpdate,
    PatchStatus,
    Plan,
    RecordLeftovers,
    RemoveFinalizer,
    Requeue,
    SendComplete,
    SendReview,
    StartWorkflow,
    WaitForWorkflowClose,
    annotation_marker,
    plan,
)
from tests.workflow.conftest import spec
from workflows.messages import ReviewDecision

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DELETED_AT = T0 + timedelta(hours=1)
GRACE = timedelta(minutes=15)
RELEASE_AT = DELETED_AT + timedelta(minutes=30) + GRACE  # the default cleanup deadline + the grace
UID = "0000-1111"
WID = f"experiment-ns-exp-{UID}"

CLOCKS = {"holding": RELEASE_AT - timedelta(seconds=1), "released": RELEASE_AT}
"""The moment of planning: one second before a deleted Experiment's finalizer is released, or then."""
ANY_TIME = tuple(CLOCKS)

NEW = (None,)
ACTIVE = (ExperimentPhase.PENDING, ExperimentPhase.PROVISIONING, ExperimentPhase.READY, ExperimentPhase.RUNNING)
DONE = (ExperimentPhase.COMPLETE, ExperimentPhase.FAILED)
ALL_PHASES = NEW + ACTIVE + DONE

WORKFLOWS = {
    "not-found": ObservedWorkflow(WorkflowState.NOT_FOUND),
    "running": ObservedWorkflow(WorkflowState.RUNNING, run_id="r1"),
    "cancelling": ObservedWorkflow(WorkflowState.RUNNING, cancel_requested=True, run_id="r1"),
    "closed": ObservedWorkflow(WorkflowState.CLOSED, run_id="r1", close_status="Terminated"),
    "unreachable": ObservedWorkflow(WorkflowState.UNREACHABLE, error="UNAVAILABLE"),
}


def experiment(
    phase: ExperimentPhase | None = None,
    *,
    deleting: bool = False,
    finalizer: bool = True,
    annotations: dict[str, str] | None = None,
    conditions: list[Condition] | None = None,
    valid: bool = True,
) -> ObservedExperiment:
    """A stored Experiment; once it has a phase, its workflow has reported (status.temporal is set)."""
    status = ExperimentStatus(
        phase=phase,
        temporal=TemporalRef(workflow_id=WID) if phase else None,
        conditions=conditions,
    )
    return ObservedExperiment(
        namespace="ns",
        name="exp",
        uid=UID,
        generation=1,
        resource_version="7",
        creation_timestamp=T0,
        deletion_timestamp=DELETED_AT if deleting else None,
        has_finalizer=finalizer,
        annotations=annotations or {},
        status=status,
        spec=spec() if valid else None,
        spec_error=None if valid else "spec.targets: Field required",
    )


def decide(observed: ObservedExperiment, workflow: str, clock: str = "holding") -> Plan:
    return plan(observed, WORKFLOWS[workflow], CLOCKS[clock], GRACE)


def failed(reason: str, message: str) -> PatchStatus:
    return PatchStatus((ConditionUpdate(READY, ConditionStatus.FALSE, reason, message),), ExperimentPhase.FAILED)


def deleting(reason: str, what: str) -> PatchStatus:
    message = (
        f"{what}; deleting since 2026-01-01T01:00:00Z; the finalizer is released at 2026-01-01T01:45:00Z at the latest"
    )
    return PatchStatus((ConditionUpdate(DELETING, ConditionStatus.TRUE, reason, message),))


LOST = failed("WorkflowLost", f"workflow {WID} no longer exists in Temporal; the experiment cannot continue")
TERMINATED = failed("WorkflowTerminated", f"workflow {WID} ended Terminated without reporting a final status")
START = (AddFinalizer(), StartWorkflow())
WAIT = Requeue.CLEANUP_POLL
RETRY = Requeue.BACKOFF
HOLD = deleting("WaitingForCleanup", f"waiting for workflow {WID} to delete what the experiment created")
HOLD_BLIND = deleting("TemporalUnreachable", f"Temporal does not answer; whether workflow {WID} cleaned up is unknown")
MAY_BE_LEFT = (
    "possibly left: cluster claim experiments/exp-app-024596ea;"
    " ArgoCD Applications in argocd labelled experiments.illm.io/experiment-uid=0000-1111;"
    " Argo workflow argo-workflows/exp-validation-3636a3ba; hub namespace exp-3636a3ba"
)
LEFT = RecordLeftovers(
    "finalizer released, deleting since 2026-01-01T01:00:00Z:"
    f" workflow {WID} has not finished its cleanup (it goes on without the object); {MAY_BE_LEFT}"
)
LEFT_BLIND = RecordLeftovers(
    "finalizer released, deleting since 2026-01-01T01:00:00Z:"
    f" Temporal did not answer (UNAVAILABLE); whether workflow {WID} cleaned up is unknown; {MAY_BE_LEFT}"
)

# (deleting, finalizer, workflow, phases, clocks, expected actions, requeue)
TABLE: list[
    tuple[bool, bool, str, tuple[ExperimentPhase | None, ...], tuple[str, ...], tuple[object, ...], Requeue]
] = [
    # ---- living Experiment: the clock plays no part
    (False, False, "not-found", NEW, ANY_TIME, START, Requeue.NO),
    (False, True, "not-found", NEW, ANY_TIME, (StartWorkflow(),), Requeue.NO),
    (False, False, "not-found", ACTIVE, ANY_TIME, (LOST,), Requeue.NO),
    (False, True, "not-found", ACTIVE, ANY_TIME, (LOST,), Requeue.NO),
    (False, False, "not-found", DONE, ANY_TIME, (), Requeue.NO),
    (False, True, "not-found", DONE, ANY_TIME, (), Requeue.NO),
    (False, False, "running", ALL_PHASES, ANY_TIME, (AddFinalizer(),), Requeue.NO),
    (False, True, "running", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    (False, False, "cancelling", ALL_PHASES, ANY_TIME, (AddFinalizer(),), Requeue.NO),
    (False, True, "cancelling", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    (False, False, "closed", NEW + ACTIVE, ANY_TIME, (TERMINATED,), Requeue.NO),
    (False, True, "closed", NEW + ACTIVE, ANY_TIME, (TERMINATED,), Requeue.NO),
    (False, False, "closed", DONE, ANY_TIME, (), Requeue.NO),
    (False, True, "closed", DONE, ANY_TIME, (), Requeue.NO),
    (False, False, "unreachable", ALL_PHASES, ANY_TIME, (AddFinalizer(),), RETRY),
    (False, True, "unreachable", ALL_PHASES, ANY_TIME, (), RETRY),
    # ---- deleted Experiment without our finalizer: nothing to do
    (True, False, "not-found", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    (True, False, "running", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    (True, False, "cancelling", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    (True, False, "closed", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    (True, False, "unreachable", ALL_PHASES, ANY_TIME, (), Requeue.NO),
    # ---- deleted Experiment with the finalizer: released once the workflow is done ...
    (True, True, "not-found", ALL_PHASES, ANY_TIME, (RemoveFinalizer(),), Requeue.NO),
    (True, True, "closed", ALL_PHASES, ANY_TIME, (RemoveFinalizer(),), Requeue.NO),
    # ... held, visibly, while it may still clean up ...
    (True, True, "running", ALL_PHASES, ("holding",), (HOLD, CancelWorkflow(), WaitForWorkflowClose()), WAIT),
    (True, True, "cancelling", ALL_PHASES, ("holding",), (HOLD, WaitForWorkflowClose()), WAIT),
    (True, True, "unreachable", ALL_PHASES, ("holding",), (HOLD_BLIND,), RETRY),
    # ... and released at the release time all the same, saying what may be left
    (True, True, "running", ALL_PHASES, ("released",), (CancelWorkflow(), LEFT, RemoveFinalizer()), Requeue.NO),
    (True, True, "cancelling", ALL_PHASES, ("released",), (LEFT, RemoveFinalizer()), Requeue.NO),
    (True, True, "unreachable", ALL_PHASES, ("released",), (LEFT_BLIND, RemoveFinalizer()), Requeue.NO),
]

CASES = [
    pytest.param(
        deleting,
        finalizer,
        wf,
        phase,
        clock,
        actions,
        requeue,
        id=f"{'del' if deleting else 'live'}-{'fin' if finalizer else 'nofin'}-{wf}-{phase or 'new'}-{clock}",
    )
    for deleting, finalizer, wf, phases, clocks, actions, requeue in TABLE
    for phase in phases
    for clock in clocks
]
EVERY_COMBINATION = list(itertools.product((False, True), (False, True), WORKFLOWS, ALL_PHASES, CLOCKS))


def test_the_table_covers_every_combination_exactly_once() -> None:
    seen = [tuple(c.values[:5]) for c in CASES]
    assert sorted(seen, key=str) == sorted(EVERY_COMBINATION, key=str)


@pytest.mark.parametrize(("deleting", "finalizer", "workflow", "phase", "clock", "actions", "requeue"), CASES)
def test_decision_table(
    deleting: bool,
    finalizer: bool,
    workflow: str,
    phase: ExperimentPhase | None,
    clock: str,
    actions: tuple[object, ...],
    requeue: Requeue,
) -> None:
    observed = experiment(phase, deleting=deleting, finalizer=finalizer)
    assert decide(observed, workflow, clock) == Plan(actions, requeue)  # type: ignore[arg-type]


@pytest.mark.parametrize(("deleting", "finalizer", "workflow", "phase", "clock"), EVERY_COMBINATION)
def test_invariants_hold_for_every_combination(
    deleting: bool, finalizer: bool, workflow: str, phase: ExperimentPhase | None, clock: str
) -> None:
    observed = experiment(
        phase,
        deleting=deleting,
        finalizer=finalizer,
        annotations={REVIEW_ANNOTATION: "approved", COMPLETE_ANNOTATION: "true"},
    )
    actions = decide(observed, workflow, clock).actions
    kinds = [type(a) for a in actions]
    if StartWorkflow in kinds:  # the finalizer is in place before any workflow exists
        assert finalizer or kinds.index(AddFinalizer) < kinds.index(StartWorkflow)
    if RemoveFinalizer in kinds and WORKFLOWS[workflow].state not in (WorkflowState.CLOSED, WorkflowState.NOT_FOUND):
        # before cleanup was seen to finish: only at the release time, and never silently
        assert clock == "released" and kinds.index(RecordLeftovers) < kinds.index(RemoveFinalizer)
    if deleting:
        assert AddFinalizer not in kinds and StartWorkflow not in kinds and SendReview not in kinds


# ------------------------------------------------------------------------------- deletion hold


def test_the_deleting_condition_is_written_once() -> None:
    (update,) = HOLD.conditions
    stored = Condition(
        type=DELETING,
        status=update.status,
        last_transition_time=DELETED_AT,
        reason=update.reason,
        message=update.message,
    )
    held = experiment(ExperimentPhase.RUNNING, deleting=True, conditions=[stored])
    assert decide(held, "cancelling") == Plan((WaitForWorkflowClose(),), WAIT)
    assert decide(held, "unreachable") == Plan((HOLD_BLIND,), RETRY)  # what blocks changed: said again


def test_the_release_time_follows_the_experiments_cleanup_deadline() -> None:
    observed = replace(experiment(ExperimentPhase.RUNNING, deleting=True), spec=spec(deadlines={"cleanup": "2h"}))
    at_default_release = plan(observed, WORKFLOWS["cancelling"], RELEASE_AT, GRACE)
    assert RemoveFinalizer() not in at_default_release.actions
    assert "released at 2026-01-01T03:15:00Z" in str(at_default_release.actions[0])
    later = plan(observed, WORKFLOWS["cancelling"], DELETED_AT + timedelta(hours=2) + GRACE, GRACE)
    assert later.actions[-1] == RemoveFinalizer()


def test_leftovers_quote_the_workflows_own_cleanup_report_when_there_is_one() -> None:
    report = Condition(
        type="Cleanup",
        status=ConditionStatus.FALSE,
        last_transition_time=DELETED_AT,
        reason="Incomplete",
        message="could not delete: claim experiments/exp-app: still deleting",
    )
    observed = experiment(ExperimentPhase.FAILED, deleting=True, conditions=[report])
    left, _ = decide(observed, "cancelling", "released").actions
    assert isinstance(left, RecordLeftovers)
    assert left.message.endswith("its last cleanup report: could not delete: claim experiments/exp-app: still deleting")


def test_leftovers_of_an_unreadable_spec_name_the_experiment() -> None:
    left, _ = decide(experiment(deleting=True, valid=False), "cancelling", "released").actions
    assert isinstance(left, RecordLeftovers) and left.message.endswith("check for objects named after exp")


# ------------------------------------------------------------------------------- invalid spec


def test_unreadable_spec_fails_the_experiment_without_a_workflow() -> None:
    decided = decide(experiment(valid=False, finalizer=False), "not-found")
    assert decided == Plan((failed("InvalidSpec", "the stored spec cannot be read: spec.targets: Field required"),))


def test_unreadable_spec_already_failed_needs_nothing() -> None:
    observed = experiment(valid=False, finalizer=False)
    observed = replace(observed, status=ExperimentStatus(phase=ExperimentPhase.FAILED))
    assert decide(observed, "not-found") == Plan()


def test_unreadable_spec_does_not_matter_once_a_workflow_runs() -> None:
    assert decide(experiment(ExperimentPhase.RUNNING, valid=False), "running") == Plan()


def test_deleting_an_unreadable_experiment_releases_it() -> None:
    assert decide(experiment(valid=False, deleting=True), "not-found") == Plan((RemoveFinalizer(),))


# -------------------------------------------------------------------------------- annotations


def handled(
    condition_type: str, annotation: str, value: str, status: ConditionStatus = ConditionStatus.TRUE
) -> Condition:
    return Condition(
        type=condition_type,
        status=status,
        last_transition_time=T0,
        reason="Accepted",
        message=annotation_marker(annotation, value) + "done",
    )


@pytest.mark.parametrize(
    ("value", "decision"),
    [("approved", ReviewDecision.APPROVE), ("rejected", ReviewDecision.REJECT), ("Approved", ReviewDecision.APPROVE)],
)
def test_review_annotation_becomes_a_review_update(value: str, decision: ReviewDecision) -> None:
    observed = experiment(ExperimentPhase.COMPLETE, annotations={REVIEW_ANNOTATION: value})
    assert decide(observed, "running").actions == (SendReview(value, decision),)


def test_review_annotation_is_applied_once() -> None:
    observed = experiment(
        ExperimentPhase.COMPLETE,
        annotations={REVIEW_ANNOTATION: "approved"},
        conditions=[handled(REVIEW_REQUEST, REVIEW_ANNOTATION, "approved")],
    )
    assert decide(observed, "running").actions == ()


def test_a_changed_review_annotation_is_sent_again() -> None:
    observed = experiment(
        ExperimentPhase.COMPLETE,
        annotations={REVIEW_ANNOTATION: "rejected"},
        conditions=[handled(REVIEW_REQUEST, REVIEW_ANNOTATION, "approved")],
    )
    assert decide(observed, "running").actions == (SendReview("rejected", ReviewDecision.REJECT),)


def test_unknown_review_value_is_refused_in_a_condition() -> None:
    observed = experiment(ExperimentPhase.COMPLETE, annotations={REVIEW_ANNOTATION: "lgtm"})
    (action,) = decide(observed, "running").actions
    assert action == PatchStatus(
        (
            ConditionUpdate(
                REVIEW_REQUEST,
                ConditionStatus.FALSE,
                "InvalidValue",
                "experiments.illm.io/review=lgtm: use approved or rejected",
            ),
        )
    )


def test_review_after_the_workflow_ended_is_refused_in_a_condition() -> None:
    observed = experiment(ExperimentPhase.COMPLETE, annotations={REVIEW_ANNOTATION: "approved"})
    (action,) = decide(observed, "closed").actions
    assert isinstance(action, PatchStatus) and action.conditions[0].reason == "WorkflowClosed"


def test_review_waits_while_temporal_is_unreachable() -> None:
    observed = experiment(ExperimentPhase.COMPLETE, annotations={REVIEW_ANNOTATION: "approved"})
    assert decide(observed, "unreachable") == Plan((), Requeue.BACKOFF)


def test_complete_annotation_becomes_a_complete_update_once() -> None:
    observed = experiment(ExperimentPhase.RUNNING, annotations={COMPLETE_ANNOTATION: "true"})
    assert decide(observed, "running").actions == (SendComplete("true"),)
    done = replace(
        observed,
        status=ExperimentStatus(
            phase=ExperimentPhase.RUNNING,
            temporal=TemporalRef(workflow_id=WID),
            conditions=[handled(COMPLETE_REQUEST, COMPLETE_ANNOTATION, "true", ConditionStatus.FALSE)],
        ),
    )
    assert decide(done, "running").actions == ()


def test_complete_annotation_other_than_true_is_refused() -> None:
    observed = experiment(ExperimentPhase.RUNNING, annotations={COMPLETE_ANNOTATION: "yes"})
    (action,) = decide(observed, "running").actions
    assert isinstance(action, PatchStatus) and action.conditions[0].reason == "InvalidValue"


def test_both_annotations_are_sent_in_one_plan() -> None:
    observed = experiment(
        ExperimentPhase.RUNNING, annotations={COMPLETE_ANNOTATION: "true", REVIEW_ANNOTATION: "approved"}
    )
    assert decide(observed, "running").actions == (
        SendReview("approved", ReviewDecision.APPROVE),
        SendComplete("true"),
    )


def test_annotations_wait_until_the_workflow_is_started() -> None:
    observed = experiment(annotations={COMPLETE_ANNOTATION: "true"})
    assert decide(observed, "not-found").actions == (StartWorkflow(),)
