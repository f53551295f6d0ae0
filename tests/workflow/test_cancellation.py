"""Deleting the Experiment cancels its workflow: cleanup runs to the end first, then the workflow closes."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError

from activities.clusters.contracts import WAIT_FOR_CLUSTER_READY
from activities.contracts import CLEANUP_EXPERIMENT
from activities.deploy.contracts import DEPLOY_APPLICATIONS
from activities.publish.contracts import CLOSE_RESULTS_PR
from api.experiment import ConditionStatus, ExperimentPhase
from tests.fixtures.eventually import eventually_async
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from tests.workflow.test_lifecycle import TWO_TARGETS
from workflows import status as st

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_cancel_during_provisioning_runs_cleanup_to_the_end_before_closing(env) -> None:
    lab = FakeLab(hang_clusters={"loadgen"})
    async with running(env, lab, spec(ttl_days=0, targets=TWO_TARGETS)) as run:
        await run.until(lambda s: {t.name: t.phase for t in s.targets or []}["app"] == "Ready")
        await eventually_async(
            lambda: lab.called(WAIT_FOR_CLUSTER_READY).count("loadgen"),
            what="loadgen waited for",
            interval=0.02,
            blocking=False,
        )
        await run.handle.cancel()
        with pytest.raises(WorkflowFailureError) as closed:
            await run.result()
        status = await run.status()
        description = await run.handle.describe()
    assert isinstance(closed.value.cause, CancelledError)
    assert description.status == WorkflowExecutionStatus.CANCELED
    assert status.phase == ExperimentPhase.FAILED
    ready = status.condition(st.READY)
    assert ready and ready.reason == "Cancelled" and ready.status == ConditionStatus.FALSE
    assert "the Experiment was deleted while Provisioning" in ready.message
    cleanup = status.condition(st.CLEANUP)
    assert cleanup and cleanup.reason == "Cleaned" and status.resources_cleaned is True
    assert lab.called(CLEANUP_EXPERIMENT) == ["app,loadgen"] and lab.claims == set()
    assert lab.called(DEPLOY_APPLICATIONS) == [] and lab.deleted_experiments == []
    assert lab.statuses[-1].status == status  # the final status reached the gateway before the close


async def test_cancel_while_the_review_is_pending_closes_the_pr(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, publish=True)) as run:
        await run.until(lambda s: s.review_phase == "Pending")
        await run.handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await run.result()
        status = await run.status()
    assert lab.called(CLOSE_RESULTS_PR) == ["1"] and lab.prs == {1: "closed"}
    assert status.phase == ExperimentPhase.COMPLETE and status.review_phase == "Skipped"
    gate = status.condition(st.REVIEW_GATE)
    assert gate and gate.reason == "Cancelled"
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"]  # once, before publishing; not again
