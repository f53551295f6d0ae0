"""What the gateway is sent: a report waits for the hub call in flight and carries its change too.

Validating, creating a claim and submitting the Argo workflow are short calls to the hub API server,
the server the status is written to; a change made while one runs goes out with what the call's
answer changes (``status-waits-for-hub-calls``), so a hello-app run sends 7 reports, not 10. Nothing
the user sees is lost: the timeline keeps every phase, each condition arrives with the next report,
and the last report is the final status. Runs started before the change replay with their old
reports (tests/workflow/test_replay.py).
"""

from __future__ import annotations

import pytest

from api.experiment import ConditionStatus, ExperimentPhase, ExperimentStatus
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st

pytestmark = pytest.mark.asyncio(loop_scope="session")

TWO_TARGETS = [
    {"name": "app", "cluster": {"type": "gke"}, "components": [{"app": "hello-app"}]},
    {"name": "loadgen", "cluster": {"type": "gke"}, "components": [{"app": "k6"}], "depends": ["app"]},
]


def timeline(status: ExperimentStatus) -> list[ExperimentPhase]:
    return [t.phase for t in status.timeline or []]


def condition_status(status: ExperimentStatus, type_: str) -> ConditionStatus | None:
    condition = status.condition(type_)
    return condition.status if condition else None


async def test_the_first_report_is_provisioning_with_the_requested_cluster(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0)) as run:
        final = await run.result()
        queried = await run.status()
    first = lab.statuses[0].status
    assert first.phase == ExperimentPhase.PROVISIONING
    assert timeline(first) == [ExperimentPhase.PENDING, ExperimentPhase.PROVISIONING]
    assert condition_status(first, st.VALIDATED) == ConditionStatus.TRUE
    target = (first.targets or [])[0]
    assert target.phase == "Provisioning" and target.cluster_name
    assert final.phase == ExperimentPhase.COMPLETE
    assert lab.statuses[-1].status == queried  # the last report is the final status


async def test_deployed_is_reported_with_the_running_phase(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0)) as run:
        await run.result()
    deployed = next(s.status for s in lab.statuses if condition_status(s.status, st.DEPLOYED) == ConditionStatus.TRUE)
    assert deployed.phase == ExperimentPhase.RUNNING
    assert (deployed.workflow_status and deployed.workflow_status.phase) == "Running"


async def test_every_phase_reaches_the_gateway_in_order_with_fewer_reports(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0)) as run:
        await run.result()
    sequences = [s.sequence for s in lab.statuses]
    assert sequences == sorted(set(sequences))
    assert timeline(lab.statuses[-1].status) == [
        ExperimentPhase.PENDING,
        ExperimentPhase.PROVISIONING,
        ExperimentPhase.READY,
        ExperimentPhase.RUNNING,
        ExperimentPhase.COMPLETE,
    ]
    assert [s.status.phase for s in lab.statuses].count(ExperimentPhase.PENDING) == 0
    assert len(lab.statuses) == 7  # 10 before the change: Pending, target Provisioning and Deployed alone


async def test_a_rejected_claim_is_in_the_first_report_and_the_run_ends_failed(env) -> None:
    lab = FakeLab(reject_clusters={"loadgen"})
    async with running(env, lab, spec(ttl_days=0, targets=TWO_TARGETS)) as run:
        outcome = await run.result()
    first, last = lab.statuses[0].status, lab.statuses[-1].status
    assert outcome.phase == ExperimentPhase.FAILED
    assert {t.name: t.phase for t in first.targets or []} == {"app": "Provisioning", "loadgen": "Failed"}
    assert last.phase == ExperimentPhase.FAILED
    assert timeline(last) == [ExperimentPhase.PENDING, ExperimentPhase.PROVISIONING, ExperimentPhase.FAILED]
    assert condition_status(last, st.PROVISIONED) == ConditionStatus.FALSE
    assert condition_status(last, st.CLEANUP) == ConditionStatus.TRUE
