"""Property-based fuzz: the validator and the gateway's planner never crash, whatever they are given."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.experiment import Experiment, ExperimentPhase, ExperimentStatus
from api.problems import Problem
from api.schema_problems import parse_object
from api.validation import check_experiment
from crd_gateway.observe import ObservedExperiment, ObservedWorkflow, WorkflowState
from crd_gateway.planner import RecordLeftovers, RemoveFinalizer, StartWorkflow, plan

HELLO_APP = yaml.safe_load((Path(__file__).resolve().parents[2] / "experiments/hello-app/experiment.yaml").read_text())
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=30))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = [
    *("apiVersion", "kind", "metadata", "spec", "targets", "cluster", "type", "components", "workflow", "name"),
    *("completion", "mode", "metrics", "deadlines", "ttlDays", "publish", "depends", "params", "hypothesis"),
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def experiment_like(draw: st.DrawFn) -> Any:
    """hello-app with a few parts replaced by anything, or a random mapping using Experiment keys."""
    if draw(st.booleans()):  # parse_object raises ValueError for other kinds, by contract
        return draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=6)) | {"kind": "Experiment"}
    doc = copy.deepcopy(HELLO_APP)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = draw(values)
    return doc | {"kind": "Experiment"}


@FUZZ
@given(experiment_like())
def test_the_validator_never_raises_and_always_returns_problems(doc: Any) -> None:
    parsed, problems = parse_object(doc)
    assert all(isinstance(p, Problem) for p in problems)
    if isinstance(parsed, Experiment):
        checked = check_experiment(parsed, None)
        assert all(isinstance(p, Problem) and bool(p.path) for p in checked)


phases = st.one_of(st.none(), st.sampled_from(list(ExperimentPhase)))
observed_experiments = st.builds(
    ObservedExperiment,
    namespace=st.just("experiments"),
    name=st.text("abc-", min_size=1, max_size=10),
    uid=st.uuids().map(str),
    generation=st.integers(1, 5),
    resource_version=st.integers(1, 10**6).map(str),
    creation_timestamp=st.datetimes(timezones=st.just(UTC), min_value=datetime(2020, 1, 1)),
    deletion_timestamp=st.none() | st.datetimes(timezones=st.just(UTC), min_value=datetime(2020, 1, 1)),
    has_finalizer=st.booleans(),
    annotations=st.dictionaries(
        st.sampled_from(["experiments.illm.io/review", "experiments.illm.io/complete", "other"]),
        st.sampled_from(["approved", "rejected", "true", "", "nonsense"]),
        max_size=3,
    ),
    status=phases.map(lambda phase: ExperimentStatus(phase=phase)),
    spec=st.none() | st.just(Experiment.model_validate(HELLO_APP | {"metadata": {"name": "x"}}).spec),
    spec_error=st.none() | st.text(max_size=20),
)
observed_workflows = st.builds(
    ObservedWorkflow,
    state=st.sampled_from(list(WorkflowState)),
    cancel_requested=st.booleans(),
    run_id=st.none() | st.text(max_size=8),
    close_status=st.none() | st.sampled_from(["Completed", "Failed", "Canceled", "Terminated", "TimedOut"]),
    error=st.none() | st.text(max_size=20),
)


@FUZZ
@given(
    observed_experiments,
    observed_workflows,
    st.datetimes(timezones=st.just(UTC), min_value=datetime(2020, 1, 1)),
    st.timedeltas(timedelta(0), timedelta(days=2)),
)
def test_the_planner_never_raises_and_never_drops_the_finalizer_of_a_live_workflow_silently(
    experiment: ObservedExperiment, workflow: ObservedWorkflow, now: datetime, grace: timedelta
) -> None:
    decided = plan(experiment, workflow, now, grace)

    actions = decided.actions
    if workflow.state in (WorkflowState.RUNNING, WorkflowState.UNREACHABLE) and any(
        isinstance(a, RemoveFinalizer) for a in actions
    ):  # only once the deletion hold is over, and saying what may be left
        assert experiment.deletion_timestamp is not None and now >= experiment.deletion_timestamp + grace
        assert any(isinstance(a, RecordLeftovers) for a in actions), (experiment, workflow, decided)
    if experiment.deleting:
        assert not any(isinstance(a, StartWorkflow) for a in actions), decided
    assert sum(isinstance(a, StartWorkflow) for a in actions) <= 1
