"""Complete means the results exist, and a terminal phase stays terminal.

Phase Complete is reported only once summary.json is stored (``resultsURL`` set in the same report);
what cannot finish later (the PR, the analysis, the review) becomes a condition of its own and never
takes Complete back; ``completedAt`` is set once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from activities.results.contracts import STORE_RESULTS
from api.experiment import DEFAULT_DEADLINES, ConditionStatus, ExperimentPhase, ExperimentStatus
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st
from workflows.experiment import ExperimentWorkflow
from workflows.messages import ReviewDecision, ReviewRequest

pytestmark = pytest.mark.asyncio(loop_scope="session")


def reported_after_complete(lab: FakeLab) -> list[ExperimentStatus]:
    return [s.status for s in lab.statuses if s.status.phase in st.TERMINAL_PHASES]


async def test_complete_is_first_reported_with_its_results_url(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0)) as run:
        outcome = await run.result()
    finished = reported_after_complete(lab)
    assert outcome.phase == ExperimentPhase.COMPLETE and finished
    assert all(s.phase == ExperimentPhase.COMPLETE and s.results_url for s in finished)
    assert lab.called(STORE_RESULTS) == ["Complete"]  # the stored summary says Complete too
    running_reports = [s.status for s in lab.statuses if s.status.phase == ExperimentPhase.RUNNING]
    ready = running_reports[-1].condition(st.READY)
    assert ready and ready.reason == "CollectingResults"


async def test_failed_analysis_is_a_condition_and_the_phase_stays_complete(env) -> None:
    lab = FakeLab(analysis_succeeds=False)
    async with running(env, lab, spec(ttl_days=0, publish=True)) as run:
        await run.until(lambda s: s.review_phase == "Pending")
        await run.handle.execute_update(
            ExperimentWorkflow.review, ReviewRequest(decision=ReviewDecision.APPROVE, reviewer="alice")
        )
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "Succeeded"
    analysis = status.condition(st.ANALYSIS_COMPLETE)
    assert analysis and analysis.status == ConditionStatus.FALSE and status.analysis_phase == "Failed"
    finished = reported_after_complete(lab)
    assert {s.phase for s in finished} == {ExperimentPhase.COMPLETE}
    assert len({s.completed_at for s in finished}) == 1  # completedAt is set once


async def test_review_deadline_closes_the_pr_and_the_phase_stays_complete(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, publish=True, deadlines={"review": "1h"})) as run:
        outcome = await run.result()  # nobody reviews; the server skips the hour
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "Succeeded"
    gate = status.condition(st.REVIEW_GATE)
    assert gate and gate.status == ConditionStatus.FALSE and gate.reason == "DeadlineExceeded"
    assert lab.prs == {1: "closed"} and status.review_phase == "Skipped"
    assert {s.phase for s in reported_after_complete(lab)} == {ExperimentPhase.COMPLETE}


async def test_default_review_deadline_ends_before_the_default_ttl() -> None:
    defaults = spec()  # every deadline and ttlDays at its default
    before_review = sum((d for phase, d in DEFAULT_DEADLINES.items() if phase != "review"), timedelta())
    assert before_review + defaults.deadline("review") < timedelta(days=defaults.ttl_days)
