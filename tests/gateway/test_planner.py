"""The planner's decision table: every (phase × workflow state × deletion × finalizer) combination."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

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
    READY,
    REVIEW_REQUEST,
    AddFinalizer,
    CancelWorkflow,
    ConditionUpdate,
    PatchStatus,
    Plan,
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
UID = "0000-1111"
WID = f"experiment-ns-exp-{UID}"

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
        deleting=deleting,
        has_finalizer=finalizer,
        annotations=annotations or {},
        status=status,
        spec=spec() if valid else None,
        spec_error=None if valid else "spec.targets: Field required",
    )


def failed(reason: str, message: str) -> PatchStatus:
    return PatchStatus((ConditionUpdate(READY, ConditionStatus.FALSE, reason, message),), ExperimentPhase.FAILED)


LOST = failed("WorkflowLost", f"workflow {WID} no longer exists in Temporal; the experiment cannot continue")
TERMINATED = failed("WorkflowTerminated", f"workflow {WID} ended Terminated without reporting a final status")
START = (AddFinalizer(), StartWorkflow())
WAIT = Requeue.CLEANUP_POLL
RETRY = Requeue.BACKOFF

# (deleting, finalizer, workflow, phases, expected actions, requeue)
TABLE: list[tuple[bool, bool, str, tuple[ExperimentPhase | None, ...], tuple[object, ...], Requeue]] = [
    # ---- living Experiment
    (False, False, "not-found", NEW, START, Requeue.NO),
    (False, True, "not-found", NEW, (StartWorkflow(),), Requeue.NO),
    (False, False, "not-found", ACTIVE, (LOST,), Requeue.NO),
    (False, True, "not-found", ACTIVE, (LOST,), Requeue.NO),
    (False, False, "not-found", DONE, (), Requeue.NO),
    (False, True, "not-found", DONE, (), Requeue.NO),
    (False, False, "running", ALL_PHASES, (AddFinalizer(),), Requeue.NO),
    (False, True, "running", ALL_PHASES, (), Requeue.NO),
    (False, False, "cancelling", ALL_PHASES, (AddFinalizer(),), Requeue.NO),
    (False, True, "cancelling", ALL_PHASES, (), Requeue.NO),
    (False, False, "closed", NEW + ACTIVE, (TERMINATED,), Requeue.NO),
    (False, True, "closed", NEW + ACTIVE, (TERMINATED,), Requeue.NO),
    (False, False, "closed", DONE, (), Requeue.NO),
    (False, True, "closed", DONE, (), Requeue.NO),
    (False, False, "unreachable", ALL_PHASES, (AddFinalizer(),), RETRY),
    (False, True, "unreachable", ALL_PHASES, (), RETRY),
    # ---- deleted Experiment
    (True, False, "not-found", ALL_PHASES, (), Requeue.NO),
    (True, False, "running", ALL_PHASES, (), Requeue.NO),
    (True, False, "cancelling", ALL_PHASES, (), Requeue.NO),
    (True, False, "closed", ALL_PHASES, (), Requeue.NO),
    (True, False, "unreachable", ALL_PHASES, (), Requeue.NO),
    (True, True, "not-found", ALL_PHASES, (RemoveFinalizer(),), Requeue.NO),
    (True, True, "running", ALL_PHASES, (CancelWorkflow(), WaitForWorkflowClose()), WAIT),
    (True, True, "cancelling", ALL_PHASES, (WaitForWorkflowClose(),), WAIT),
    (True, True, "closed", ALL_PHASES, (RemoveFinalizer(),), Requeue.NO),
    (True, True, "unreachable", ALL_PHASES, (), RETRY),
]

CASES = [
    pytest.param(
        deleting,
        finalizer,
        wf,
        phase,
        actions,
        requeue,
        id=f"{'del' if deleting else 'live'}-{'fin' if finalizer else 'nofin'}-{wf}-{phase or 'new'}",
    )
    for deleting, finalizer, wf, phases, actions, requeue in TABLE
    for phase in phases
]


def test_the_table_covers_every_combination_exactly_once() -> None:
    seen = [(c.values[0], c.values[1], c.values[2], c.values[3]) for c in CASES]
    every = list(itertools.product((False, True), (False, True), WORKFLOWS, ALL_PHASES))
    assert sorted(seen, key=str) == sorted(every, key=str)


@pytest.mark.parametrize(("deleting", "finalizer", "workflow", "phase", "actions", "requeue"), CASES)
def test_decision_table(
    deleting: bool,
    finalizer: bool,
    workflow: str,
    phase: ExperimentPhase | None,
    actions: tuple[object, ...],
    requeue: Requeue,
) -> None:
    observed = experiment(phase, deleting=deleting, finalizer=finalizer)
    assert plan(observed, WORKFLOWS[workflow]) == Plan(actions, requeue)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("deleting", "finalizer", "workflow", "phase"),
    list(itertools.product((False, True), (False, True), WORKFLOWS, ALL_PHASES)),
)
def test_invariants_hold_for_every_combination(
    deleting: bool, finalizer: bool, workflow: str, phase: ExperimentPhase | None
) -> None:
    observed = experiment(
        phase,
        deleting=deleting,
        finalizer=finalizer,
        annotations={REVIEW_ANNOTATION: "approved", COMPLETE_ANNOTATION: "true"},
    )
    actions = plan(observed, WORKFLOWS[workflow]).actions
    kinds = [type(a) for a in actions]
    if StartWorkflow in kinds:  # the finalizer is in place before any workflow exists
        assert finalizer or kinds.index(AddFinalizer) < kinds.index(StartWorkflow)
    if RemoveFinalizer in kinds:  # never before cleanup ran: the workflow is closed or never existed
        assert WORKFLOWS[workflow].state in (WorkflowState.CLOSED, WorkflowState.NOT_FOUND)
    if deleting:
        assert AddFinalizer not in kinds and StartWorkflow not in kinds and SendReview not in kinds


# ------------------------------------------------------------------------------- invalid spec


def test_unreadable_spec_fails_the_experiment_without_a_workflow() -> None:
    decided = plan(experiment(valid=False, finalizer=False), WORKFLOWS["not-found"])
    assert decided == Plan((failed("InvalidSpec", "the stored spec cannot be read: spec.targets: Field required"),))


def test_unreadable_spec_already_failed_needs_nothing() -> None:
    observed = experiment(valid=False, finalizer=False)
    observed = replace(observed, status=ExperimentStatus(phase=ExperimentPhase.FAILED))
    assert plan(observed, WORKFLOWS["not-found"]) == Plan()


def test_unreadable_spec_does_not_matter_once_a_workflow_runs() -> None:
    assert plan(experiment(ExperimentPhase.RUNNING, valid=False), WORKFLOWS["running"]) == Plan()


def test_deleting_an_unreadable_experiment_releases_it() -> None:
    assert plan(experiment(valid=False, deleting=True), WORKFLOWS["not-found"]) == Plan((RemoveFinalizer(),))


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
    assert plan(observed, WORKFLOWS["running"]).actions == (SendReview(value, decision),)


def test_review_annotation_is_applied_once() -> None:
    observed = experiment(
        ExperimentPhase.COMPLETE,
        annotations={REVIEW_ANNOTATION: "approved"},
        conditions=[handled(REVIEW_REQUEST, REVIEW_ANNOTATION, "approved")],
    )
    assert plan(observed, WORKFLOWS["running"]).actions == ()


def test_a_changed_review_annotation_is_sent_again() -> None:
    observed = experiment(
        ExperimentPhase.COMPLETE,
        annotations={REVIEW_ANNOTATION: "rejected"},
        conditions=[handled(REVIEW_REQUEST, REVIEW_ANNOTATION, "approved")],
    )
    assert plan(observed, WORKFLOWS["running"]).actions == (SendReview("rejected", ReviewDecision.REJECT),)


def test_unknown_review_value_is_refused_in_a_condition() -> None:
    observed = experiment(ExperimentPhase.COMPLETE, annotations={REVIEW_ANNOTATION: "lgtm"})
    (action,) = plan(observed, WORKFLOWS["running"]).actions
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
    (action,) = plan(observed, WORKFLOWS["closed"]).actions
    assert isinstance(action, PatchStatus) and action.conditions[0].reason == "WorkflowClosed"


def test_review_waits_while_temporal_is_unreachable() -> None:
    observed = experiment(ExperimentPhase.COMPLETE, annotations={REVIEW_ANNOTATION: "approved"})
    assert plan(observed, WORKFLOWS["unreachable"]) == Plan((), Requeue.BACKOFF)


def test_complete_annotation_becomes_a_complete_update_once() -> None:
    observed = experiment(ExperimentPhase.RUNNING, annotations={COMPLETE_ANNOTATION: "true"})
    assert plan(observed, WORKFLOWS["running"]).actions == (SendComplete("true"),)
    done = replace(
        observed,
        status=ExperimentStatus(
            phase=ExperimentPhase.RUNNING,
            temporal=TemporalRef(workflow_id=WID),
            conditions=[handled(COMPLETE_REQUEST, COMPLETE_ANNOTATION, "true", ConditionStatus.FALSE)],
        ),
    )
    assert plan(done, WORKFLOWS["running"]).actions == ()


def test_complete_annotation_other_than_true_is_refused() -> None:
    observed = experiment(ExperimentPhase.RUNNING, annotations={COMPLETE_ANNOTATION: "yes"})
    (action,) = plan(observed, WORKFLOWS["running"]).actions
    assert isinstance(action, PatchStatus) and action.conditions[0].reason == "InvalidValue"


def test_both_annotations_are_sent_in_one_plan() -> None:
    observed = experiment(
        ExperimentPhase.RUNNING, annotations={COMPLETE_ANNOTATION: "true", REVIEW_ANNOTATION: "approved"}
    )
    assert plan(observed, WORKFLOWS["running"]).actions == (
        SendReview("approved", ReviewDecision.APPROVE),
        SendComplete("true"),
    )


def test_annotations_wait_until_the_workflow_is_started() -> None:
    observed = experiment(annotations={COMPLETE_ANNOTATION: "true"})
    assert plan(observed, WORKFLOWS["not-found"]).actions == (StartWorkflow(),)
