"""The `status` query answers exactly what the workflow last reported to the gateway."""

from __future__ import annotations

import pytest

from api.experiment import ExperimentPhase, ExperimentStatus
from tests.fixtures.eventually import eventually_async
from tests.workflow.conftest import MANUAL, Run, running, spec
from tests.workflow.fakes import FakeLab
from tests.workflow.test_manual_completion import awaiting_completion
from workflows.experiment import ExperimentWorkflow
from workflows.messages import CompleteRequest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def settled(run: Run) -> ExperimentStatus:
    """The query once the status pump has sent the newest version (reports go out asynchronously)."""
    return await eventually_async(
        run.status,
        what="the last report matches the query",
        until=lambda status: bool(run.lab.statuses) and run.lab.statuses[-1].status == status,
        interval=0.02,
    )


async def test_status_query_returns_what_the_last_report_sent(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, workflow=MANUAL)) as run:
        await run.until(awaiting_completion)
        waiting = await settled(run)
        await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="alice"))
        await run.result()
        final = await run.status()
    assert waiting.phase == ExperimentPhase.RUNNING
    assert lab.statuses[-1].status == final and final.phase == ExperimentPhase.COMPLETE
    assert final.model_dump(mode="json") == lab.statuses[-1].status.model_dump(mode="json")
    sequences = [s.sequence for s in lab.statuses]
    assert sequences == sorted(set(sequences))  # in order, none sent twice
