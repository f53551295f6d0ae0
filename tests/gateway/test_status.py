"""Observation and status writing without a cluster: workflow input, unreadable specs, merges, Events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.experiment import (
    COMPLETE_ANNOTATION,
    EXPERIMENT_FINALIZER,
    Condition,
    ConditionStatus,
    ExperimentPhase,
    ExperimentStatus,
    TemporalRef,
)
from crd_gateway.observe import observe_experiment
from crd_gateway.planner import COMPLETE_REQUEST, READY, ConditionUpdate
from crd_gateway.settings import GatewaySettings
from crd_gateway.status_writer import apply_conditions, merge_report, status_events, ui_link

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def stored(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "experiments.illm.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {
            "name": "hello-app-x1",
            "namespace": "experiments",
            "uid": "u-1",
            "generation": 3,
            "resourceVersion": "42",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            **metadata,
        },
        "spec": spec
        or {
            "targets": [{"name": "app", "cluster": {"type": "hub"}}],
            "workflow": {"template": "hello-app", "completion": {"mode": "workflow"}},
            "ttlDays": 0,
        },
    }


def cond(type_: str, status: ConditionStatus, reason: str, message: str = "m", at: datetime = T0) -> Condition:
    return Condition(type=type_, status=status, last_transition_time=at, reason=reason, message=message)


def test_workflow_input_carries_identity_generation_creation_time_and_the_parsed_spec() -> None:
    observed = observe_experiment(stored(finalizers=[EXPERIMENT_FINALIZER], annotations={COMPLETE_ANNOTATION: "true"}))
    inp = observed.workflow_input()
    assert (inp.experiment.namespace, inp.experiment.name, inp.experiment.uid) == ("experiments", "hello-app-x1", "u-1")
    assert inp.experiment.generation == 3 and inp.experiment.creation_timestamp == T0
    assert inp.spec.targets[0].name == "app" and inp.spec.ttl_days == 0
    assert observed.workflow_id == "experiment-experiments-hello-app-x1-u-1"
    assert observed.has_finalizer and observed.annotations == {COMPLETE_ANNOTATION: "true"}


def test_an_unreadable_spec_is_observed_with_a_clear_message() -> None:
    observed = observe_experiment(stored({"workflow": {"template": "x", "completion": {"mode": "sometimes"}}}))
    assert observed.spec is None
    assert observed.spec_error is not None
    assert "spec.targets: Field required" in observed.spec_error
    assert "spec.workflow.completion.mode" in observed.spec_error


def test_a_report_keeps_the_gateway_conditions_and_gains_the_ui_link() -> None:
    current = ExperimentStatus(conditions=[cond(COMPLETE_REQUEST, ConditionStatus.TRUE, "Accepted")])
    report = ExperimentStatus(
        phase=ExperimentPhase.RUNNING,
        temporal=TemporalRef(workflow_id="wf", run_id="r"),
        conditions=[cond(READY, ConditionStatus.UNKNOWN, "Running")],
    )
    merged = merge_report(report, 4, current, 3, ui_link("http://ui/", "default", "wf"))
    assert merged is not None
    assert [c.type for c in merged.conditions or []] == [READY, COMPLETE_REQUEST]
    assert merged.observed_generation == 3 and all(c.observed_generation == 3 for c in merged.conditions or [])
    assert merged.temporal is not None and merged.temporal.ui_url == "http://ui/namespaces/default/workflows/wf"
    assert merged.to_wire()["temporal"]["uiURL"] == "http://ui/namespaces/default/workflows/wf"


def test_a_report_carries_its_sequence_into_the_status_and_an_older_one_writes_nothing() -> None:
    report = ExperimentStatus(phase=ExperimentPhase.RUNNING, temporal=TemporalRef(workflow_id="wf"))
    merged = merge_report(report, 7, ExperimentStatus(report_sequence=6), 1, None)
    assert merged is not None and merged.to_wire()["reportSequence"] == 7
    assert merge_report(report, 7, merged, 1, None) is None  # the same report again
    assert merge_report(report, 6, merged, 1, None) is None  # an older one
    assert merge_report(report, 1, ExperimentStatus(), 1, None) is not None  # nothing written yet


def test_gateway_writes_keep_the_report_sequence() -> None:
    update = ConditionUpdate(COMPLETE_REQUEST, ConditionStatus.FALSE, "InvalidValue", "x")
    assert apply_conditions(ExperimentStatus(report_sequence=9), (update,), 1, T1).report_sequence == 9


def test_gateway_conditions_keep_their_transition_time_when_the_status_is_unchanged() -> None:
    current = ExperimentStatus(conditions=[cond(COMPLETE_REQUEST, ConditionStatus.FALSE, "Refused", at=T0)])
    update = ConditionUpdate(COMPLETE_REQUEST, ConditionStatus.FALSE, "InvalidValue", "x")
    after = apply_conditions(current, (update,), 1, T1)
    assert after.conditions is not None and after.conditions[0].last_transition_time == T0
    flipped = apply_conditions(
        current, (ConditionUpdate(COMPLETE_REQUEST, ConditionStatus.TRUE, "Accepted", "y"),), 1, T1
    )
    assert flipped.conditions is not None and flipped.conditions[0].last_transition_time == T1


def test_the_gateway_never_overwrites_a_finished_verdict() -> None:
    done = ExperimentStatus(phase=ExperimentPhase.COMPLETE, conditions=[cond(READY, ConditionStatus.TRUE, "Succeeded")])
    lost = ConditionUpdate(READY, ConditionStatus.FALSE, "WorkflowTerminated", "late")
    after = apply_conditions(done, (lost,), 1, T1, ExperimentPhase.FAILED)
    assert after.phase == ExperimentPhase.COMPLETE and after.conditions == done.conditions


def test_failing_an_unfinished_experiment_sets_phase_completion_time_and_ready() -> None:
    lost = ConditionUpdate(READY, ConditionStatus.FALSE, "InvalidSpec", "bad")
    after = apply_conditions(ExperimentStatus(), (lost,), 2, T1, ExperimentPhase.FAILED)
    assert (after.phase, after.completed_at, after.observed_generation) == (ExperimentPhase.FAILED, T1, 2)
    assert after.condition(READY) is not None


def test_events_for_phase_changes_and_new_failures() -> None:
    before = ExperimentStatus(phase=ExperimentPhase.RUNNING)
    after = ExperimentStatus(
        phase=ExperimentPhase.FAILED,
        conditions=[
            cond(READY, ConditionStatus.FALSE, "ArgoWorkflowFailed", "step load failed"),
            cond("Published", ConditionStatus.FALSE, "PublishFailed", "no token"),
        ],
    )
    assert status_events(before, after) == [
        ("Warning", "PhaseFailed", "Running → Failed: ArgoWorkflowFailed: step load failed"),
        ("Warning", "PublishFailed", "Published: no token"),
    ]
    assert status_events(after, after) == []


def test_settings_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("GATEWAY_NAMESPACES", "experiments, team-a")
    monkeypatch.setenv("TEMPORAL_UI_URL", "http://temporal-ui:8080")
    settings = GatewaySettings()
    assert settings.namespaces == ["experiments", "team-a"]
    assert settings.temporal_ui_url == "http://temporal-ui:8080"
    assert (settings.lease_duration_seconds, settings.renew_deadline_seconds, settings.retry_period_seconds) == (
        15.0,
        10.0,
        2.0,
    )
