"""Manual mode: the experiment runs until someone completes it (update or signal) or its TTL ends it.

Whatever the template: a complete request ends the run while the Argo workflow still runs (the inline
``experiment-lifecycle`` waits at a suspend step forever), and resumes its suspend steps as ``argo resume``.
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.contracts import CLEANUP_EXPERIMENT, DELETE_EXPERIMENT
from activities.results.contracts import COLLECT_METRICS, STORE_RESULTS
from activities.run.contracts import RESUME_ARGO_WORKFLOW, ArgoWorkflowPhase
from api import names
from api.experiment import ConditionStatus, ExperimentPhase, ExperimentStatus
from tests.workflow.conftest import MANUAL, Run, running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st
from workflows.experiment import ExperimentWorkflow
from workflows.messages import CompleteRequest

pytestmark = pytest.mark.asyncio(loop_scope="session")


def awaiting_completion(status: ExperimentStatus) -> bool:
    ready = status.condition(st.READY)
    return ready is not None and ready.reason == "AwaitingCompletion"


async def test_manual_experiment_ends_at_seven_day_ttl(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=7, workflow=MANUAL)) as run:
        outcome = await run.result()  # seven days of workflow time; the server skips them
        status = await run.status()
        deleted_at = await run.scheduled(DELETE_EXPERIMENT)
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "TTLExpired"
    assert "ttlDays 7 reached; manual experiment ended at its TTL" in outcome.message
    assert lab.called(COLLECT_METRICS) == ["0"] and lab.called(STORE_RESULTS) == ["Complete"]
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"] and lab.claims == set() and lab.apps == set()
    assert status.resources_cleaned is True and outcome.results_url
    assert [d.reason for d in lab.deleted_experiments] == ["TTLExpired"]
    names = [n for n, _ in lab.calls]
    assert names.index(STORE_RESULTS) < names.index(CLEANUP_EXPERIMENT) < names.index(DELETE_EXPERIMENT)
    assert len(deleted_at) == 1 and (deleted_at[0] - run.ref.creation_timestamp).days == 7


async def test_manual_experiment_completes_by_update(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, workflow=MANUAL)) as run:
        waiting = await run.until(awaiting_completion)
        assert waiting.phase == ExperimentPhase.RUNNING and lab.called(COLLECT_METRICS) == []
        answer = await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="alice"))
        outcome = await run.result()
    assert answer == "completion of hello-app-x1 requested by alice"
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "Succeeded"
    assert lab.called(STORE_RESULTS) == ["Complete"] and lab.called(CLEANUP_EXPERIMENT) == ["app"]
    assert lab.deleted_experiments == []  # ttlDays 0: the object stays


async def test_manual_experiment_completes_by_signal_twin(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, workflow=MANUAL)) as run:
        await run.until(awaiting_completion)
        await run.handle.signal(ExperimentWorkflow.request_complete, CompleteRequest(requested_by="temporal-ui"))
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "Succeeded"
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"]


async def test_complete_update_is_rejected_in_workflow_mode(env) -> None:
    lab = FakeLab(hang_clusters={"app"})  # keeps the experiment open while we ask
    async with running(env, lab, spec(ttl_days=0, deadlines={"provisioning": "5m"})) as run:
        await run.until(lambda s: s.phase == ExperimentPhase.PROVISIONING)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="bob"))
        await run.handle.signal(ExperimentWorkflow.request_complete, CompleteRequest(requested_by="bob"))  # ignored
        outcome = await run.result()
    assert isinstance(rejected.value.cause, ApplicationError)
    assert rejected.value.cause.message == (
        "this experiment runs in workflow mode; it completes when its Argo workflow succeeds"
    )
    assert outcome.reason == "DeadlineExceeded"


async def test_complete_update_is_rejected_after_the_experiment_finished(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=3, workflow=MANUAL)) as run:
        await run.until(awaiting_completion)
        await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="alice"))
        finished = await run.until(lambda s: s.phase == ExperimentPhase.COMPLETE and s.resources_cleaned is True)
        assert await run.is_open()  # lingering until its TTL
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="carol"))
        outcome = await run.result()
    assert isinstance(rejected.value.cause, ApplicationError)
    assert rejected.value.cause.message == "the experiment already finished (Complete)"
    ready = finished.condition(st.READY)
    assert ready and ready.status == ConditionStatus.TRUE and ready.reason == "Succeeded"
    assert outcome.reason == "Succeeded" and [d.reason for d in lab.deleted_experiments] == ["TTLExpired"]


INLINE_MANUAL = {"template": "experiment-lifecycle", "completion": {"mode": "manual"}}


async def _complete_by_update(run: Run) -> None:
    await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="alice"))


async def _complete_by_signal(run: Run) -> None:
    await run.handle.signal(ExperimentWorkflow.request_complete, CompleteRequest(requested_by="alice"))


@pytest.mark.parametrize("request_complete", [_complete_by_update, _complete_by_signal], ids=["update", "signal"])
async def test_manual_inline_lifecycle_ends_on_request_and_its_suspend_step_is_resumed(env, request_complete) -> None:
    lab = FakeLab(argo_suspends=True)  # the Argo workflow never ends by itself
    async with running(env, lab, spec(ttl_days=0, workflow=INLINE_MANUAL)) as run:
        waiting = await run.until(awaiting_completion)
        assert waiting.phase == ExperimentPhase.RUNNING and lab.called(COLLECT_METRICS) == []
        await request_complete(run)
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE and outcome.reason == "Succeeded"
    assert lab.called(RESUME_ARGO_WORKFLOW) == [names.argo_workflow_name(run.ref)]
    assert lab.called(STORE_RESULTS) == ["Complete"] and status.results_url
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"] and lab.argo_workflows == set()
    assert status.workflow_status and status.workflow_status.message == (
        "completion requested by alice; resumed wait-for-complete"
    )


async def test_a_catalog_template_still_running_ends_on_request_too(env) -> None:
    lab = FakeLab(argo_suspends=True)
    async with running(env, lab, spec(ttl_days=0, workflow=MANUAL)) as run:
        await run.until(awaiting_completion)
        await _complete_by_update(run)
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.COMPLETE
    assert lab.called(RESUME_ARGO_WORKFLOW) == [names.argo_workflow_name(run.ref)]


async def test_a_manual_workflow_that_ends_first_needs_no_resume(env) -> None:
    lab = FakeLab()  # hello-app's template ends by itself; then the experiment waits for the request
    async with running(env, lab, spec(ttl_days=0, workflow=MANUAL)) as run:
        await run.until(lambda s: awaiting_completion(s) and s.workflow_status is not None
                        and s.workflow_status.phase == "Succeeded")  # fmt: skip
        await _complete_by_update(run)
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.COMPLETE and lab.called(RESUME_ARGO_WORKFLOW) == []


async def test_a_failed_manual_workflow_fails_the_experiment(env) -> None:
    lab = FakeLab(argo_phase=ArgoWorkflowPhase.FAILED)
    async with running(env, lab, spec(ttl_days=0, workflow=MANUAL)) as run:
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "ArgoWorkflowFailed"
