"""ttlDays: a finished experiment is deleted at creation + ttlDays; ttlDays 0 never deletes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError

from activities.contracts import CLEANUP_EXPERIMENT, DELETE_EXPERIMENT
from activities.run.contracts import ArgoWorkflowPhase
from api.experiment import ExperimentPhase
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_finished_experiment_is_deleted_at_creation_plus_ttl_days(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=3)) as run:
        finished = await run.until(lambda s: s.phase == ExperimentPhase.COMPLETE and s.resources_cleaned is True)
        assert await run.is_open() and lab.deleted_experiments == []
        outcome = await run.result()
        deleted_at = await run.scheduled(DELETE_EXPERIMENT)
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "Succeeded"
    assert [(d.reason, d.experiment.uid) for d in lab.deleted_experiments] == [("TTLExpired", run.ref.uid)]
    assert len(deleted_at) == 1
    assert timedelta(days=3) <= deleted_at[0] - run.ref.creation_timestamp < timedelta(days=3, minutes=1)
    assert finished.completed_at and finished.completed_at < deleted_at[0] - timedelta(days=2)
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"]  # at the end of the run, not again at the TTL


async def test_ttl_days_zero_never_deletes_a_finished_experiment(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0)) as run:
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.COMPLETE
    assert lab.deleted_experiments == []  # nothing left to wait for: the workflow closes, the object stays


async def test_ttl_days_zero_keeps_retained_resources_until_the_experiment_is_deleted(env) -> None:
    lab = FakeLab(argo_phase=ArgoWorkflowPhase.FAILED)
    async with running(env, lab, spec(ttl_days=0, cleanup_policy="OnSuccess")) as run:
        await run.until(
            lambda s: (cond := s.condition(st.CLEANUP)) is not None and cond.reason == "RetainedForDebugging"
        )
        await env.sleep(timedelta(days=400))
        assert await run.is_open()
        assert lab.called(CLEANUP_EXPERIMENT) == [] and lab.claims and lab.deleted_experiments == []
        await run.handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await run.result()
        status = await run.status()
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"] and lab.claims == set()
    assert status.phase == ExperimentPhase.FAILED and status.resources_cleaned is True
    ready = status.condition(st.READY)
    assert ready and ready.reason == "ArgoWorkflowFailed"  # the first failure stays the reason
    assert lab.deleted_experiments == []
