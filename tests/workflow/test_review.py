"""The review gate of a published experiment: approve merges the results PR, reject closes it."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.publish.contracts import CLOSE_RESULTS_PR, MERGE_RESULTS_PR, PUBLISH_RESULTS
from api.experiment import ConditionStatus, ExperimentPhase, ExperimentStatus
from tests.workflow.conftest import MANUAL, running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st
from workflows.experiment import ExperimentWorkflow
from workflows.messages import CompleteRequest, ReviewDecision, ReviewRequest

pytestmark = pytest.mark.asyncio(loop_scope="session")

APPROVE = ReviewRequest(decision=ReviewDecision.APPROVE, reviewer="alice")
REJECT = ReviewRequest(decision=ReviewDecision.REJECT, reviewer="bob")


def pending(status: ExperimentStatus) -> bool:
    return status.review_phase == "Pending"


async def test_approve_merges_the_results_pr(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, publish=True)) as run:
        opened = await run.until(pending)
        answer = await run.handle.execute_update(ExperimentWorkflow.review, APPROVE)
        outcome = await run.result()
        status = await run.status()
    assert opened.publish_pr_number == 1 and opened.analysis_phase == "Succeeded"
    assert answer == "approve recorded"
    assert outcome.phase == ExperimentPhase.COMPLETE
    assert lab.called(MERGE_RESULTS_PR) == ["1"] and lab.prs == {1: "merged"}
    assert status.review_phase == "Approved"
    gate = status.condition(st.REVIEW_GATE)
    assert gate and gate.status == ConditionStatus.TRUE and gate.message == "PR #1 approved by alice"


async def test_reject_closes_the_results_pr(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, publish=True)) as run:
        await run.until(pending)
        await run.handle.signal(ExperimentWorkflow.submit_review, REJECT)
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE
    assert lab.called(CLOSE_RESULTS_PR) == ["1"] and lab.called(MERGE_RESULTS_PR) == []
    assert lab.prs == {1: "closed"} and status.review_phase == "Rejected"
    gate = status.condition(st.REVIEW_GATE)
    assert gate and gate.reason == "Rejected" and gate.message == "PR #1 rejected by bob"


async def test_an_early_decision_is_kept_until_the_gate_opens_and_a_different_one_is_refused(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, publish=True, workflow=MANUAL)) as run:
        await run.until(lambda s: s.phase == ExperimentPhase.RUNNING)
        early = await run.handle.execute_update(ExperimentWorkflow.review, APPROVE)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.handle.execute_update(ExperimentWorkflow.review, REJECT)
        again = await run.handle.execute_update(ExperimentWorkflow.review, APPROVE)  # same decision: idempotent
        assert lab.called(PUBLISH_RESULTS) == []
        await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="alice"))
        outcome = await run.result()
        status = await run.status()
    assert early == "approve recorded; applied when the review gate opens" and again == early
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.message == "already approved by alice"
    assert outcome.phase == ExperimentPhase.COMPLETE and status.review_phase == "Approved"
    names = [n for n, _ in lab.calls]
    assert names.index(PUBLISH_RESULTS) < names.index(MERGE_RESULTS_PR)
    assert lab.prs == {1: "merged"}


async def test_review_is_refused_when_nothing_is_published(env) -> None:
    lab = FakeLab(hang_clusters={"app"})
    async with running(env, lab, spec(ttl_days=0, deadlines={"provisioning": "5m"})) as run:
        await run.until(lambda s: s.phase == ExperimentPhase.PROVISIONING)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.handle.execute_update(ExperimentWorkflow.review, APPROVE)
        await run.result()
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.message == "this experiment does not publish results; there is no review"
