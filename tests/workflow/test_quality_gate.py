"""The quality gate re-collects metrics that lack data, waiting between tries, and gives up bounded."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from activities.clusters.contracts import PROVISION_CLUSTER
from activities.contracts import CLEANUP_EXPERIMENT
from activities.publish.contracts import PUBLISH_RESULTS
from activities.results import judgement
from activities.results.contracts import COLLECT_METRICS, STORE_RESULTS
from activities.results.judgement import STORE_RESULTS_RESERVE
from api.experiment import ConditionStatus, ExperimentPhase
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st
from workflows.experiment import ExperimentWorkflow
from workflows.messages import ReviewDecision, ReviewRequest

pytestmark = pytest.mark.asyncio(loop_scope="session")

GATE = {"enabled": True, "maxIterations": 2, "recollectDelaySeconds": 600}


async def test_collections_without_data_stop_after_max_iterations_plus_one_and_fail(env) -> None:
    lab = FakeLab(coverage=[(0, 0)])
    async with running(env, lab, spec(ttl_days=0, publish=True, quality_gate=GATE)) as run:
        outcome = await run.result()
        status = await run.status()
        collected_at = await run.scheduled(COLLECT_METRICS)
        timers = await run.timers()
    assert lab.called(COLLECT_METRICS) == ["0", "1", "2"]  # maxIterations + 1 evaluations
    assert timers == [timedelta(seconds=600)] * 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(collected_at)]
    assert all(gap >= timedelta(seconds=600) for gap in gaps) and len(gaps) == 2
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "QualityGateExhausted"
    gate = status.condition(st.QUALITY_GATE)
    assert gate and gate.status == ConditionStatus.FALSE and gate.reason == "Exhausted"
    assert "quality gate exhausted after 3 evaluations: no metrics were collected" in gate.message
    iterations = status.iteration_status
    assert iterations and iterations.phase == "Exhausted" and iterations.max_iterations == 2
    assert [r.passed for r in iterations.quality_results or []] == [False, False, False]
    assert lab.called(STORE_RESULTS) == ["Failed"] and lab.called(PUBLISH_RESULTS) == []
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"]


async def test_a_gate_that_passes_on_the_second_evaluation_publishes(env) -> None:
    lab = FakeLab(coverage=[(4, 1), (4, 4)])
    async with running(env, lab, spec(ttl_days=0, publish=True, quality_gate=GATE)) as run:
        await run.until(lambda s: (gate := s.condition(st.QUALITY_GATE)) is not None and gate.reason == "Recollecting")
        await env.sleep(timedelta(seconds=600))  # time skips only while the test waits on the server
        opened = await run.until(lambda s: s.review_phase == "Pending")
        await run.handle.execute_update(
            ExperimentWorkflow.review, ReviewRequest(decision=ReviewDecision.APPROVE, reviewer="alice")
        )
        outcome = await run.result()
        timers = await run.timers()
    assert lab.called(COLLECT_METRICS) == ["0", "1"]
    assert timers == [timedelta(seconds=600), timedelta(hours=12)]  # one re-collect delay, then the review deadline
    assert outcome.phase == ExperimentPhase.COMPLETE
    gate = opened.condition(st.QUALITY_GATE)
    assert gate and gate.status == ConditionStatus.TRUE and gate.reason == "Passed"
    iterations = opened.iteration_status
    assert iterations and iterations.phase == "Passed" and iterations.current_iteration == 1
    assert [r.passed for r in iterations.quality_results or []] == [False, True]
    assert lab.called(PUBLISH_RESULTS) and lab.prs == {1: "merged"}


async def test_gate_waits_beyond_the_results_deadline_are_refused_before_any_claim(env) -> None:
    lab = FakeLab()
    day_long = {"enabled": True, "maxIterations": 3, "recollectDelaySeconds": 86400}
    async with running(env, lab, spec(ttl_days=0, publish=True, quality_gate=day_long)) as run:
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "InvalidSpec"
    assert outcome.message == (
        "spec.qualityGate: maxIterations 3 x recollectDelaySeconds 86400 = 72h of waiting does not fit the results "
        "deadline 30m, which must also keep 5m for storing the results (fix: set recollectDelaySeconds to at most "
        "500, or spec.deadlines.results to at least 72h5m)"
    )
    assert lab.called(PROVISION_CLUSTER) == [] and lab.claims == set()


async def test_the_budget_check_counts_only_a_gate_that_applies() -> None:
    day_long = {"enabled": True, "maxIterations": 3, "recollectDelaySeconds": 86400}
    assert judgement.budget_problem(spec(publish=False, quality_gate=day_long)) is None  # no gate without publish
    assert judgement.budget_problem(spec(publish=True, quality_gate=day_long, deadlines={"results": "73h"})) is None
    assert judgement.budget_problem(spec(publish=True, quality_gate=GATE)) is None  # 2 x 600 s + 5m < 30m


async def test_storing_results_keeps_its_own_budget_after_the_gate_used_the_deadline(env) -> None:
    lab = FakeLab(coverage=[(4, 1), (4, 1), (4, 4)])  # two re-collections of 600 s: 20 of 25 minutes
    async with running(
        env, lab, spec(ttl_days=0, publish=True, quality_gate=GATE, deadlines={"results": "25m"})
    ) as run:
        await run.handle.execute_update(  # decided early, applied when the gate opens
            ExperimentWorkflow.review, ReviewRequest(decision=ReviewDecision.APPROVE, reviewer="alice")
        )
        outcome = await run.result()  # the server skips the re-collect waits
        history = await run.handle.fetch_history()
    store = next(
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == STORE_RESULTS
    )
    assert store.schedule_to_close_timeout.ToTimedelta() >= STORE_RESULTS_RESERVE
    assert outcome.phase == ExperimentPhase.COMPLETE and lab.called(COLLECT_METRICS) == ["0", "1", "2"]
