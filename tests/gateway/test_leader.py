"""High availability: two replicas, one Lease, only the leader acts, the follower takes over."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.contracts import ExperimentRef, ReportStatusInput
from api.experiment import ExperimentPhase, ExperimentStatus, TemporalRef
from crd_gateway.app import Gateway
from tests.fixtures.eventually import eventually_async
from tests.gateway.conftest import Cluster, Gateways, workflow_started
from tests.workflow.fakes import FakeLab

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


async def failover_seconds(cluster: Cluster, gateways: Gateways, within: float, **timing: float) -> float:
    """Kill the leader; the follower must lead ``within`` seconds (the lease's expiry plus a retry period)."""
    leader = await gateways.start(identity="replica-a", **timing)
    await gateways.leading(leader)
    follower = await gateways.start(identity="replica-b", **timing)
    await eventually_async(lambda: follower._readyz() == (True, "standby"), timeout=30, blocking=False)
    before = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(before) == "Complete", timeout=30)
    assert not follower.leading and follower.watchers == []

    await gateways.kill(leader)  # no release: the Lease must expire
    killed = time.monotonic()
    await eventually_async(
        lambda: follower.leading, timeout=within, what="follower leading", interval=0.05, blocking=False
    )
    took = time.monotonic() - killed
    after = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(after) == "Complete", timeout=30)
    return took


async def test_follower_takes_over_when_the_leader_dies(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    took = await failover_seconds(cluster, gateways, within=10)  # lease 3 s, retry 0.5 s
    print(f"\nfailover with a 3 s lease: {took:.1f} s")


@pytest.mark.slow
async def test_failover_with_production_timings_is_within_20_seconds(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    took = await failover_seconds(
        cluster, gateways, within=22, lease_duration_seconds=15.0, renew_deadline_seconds=10.0, retry_period_seconds=2.0
    )
    print(f"\nfailover with client-go timings (15 s lease, 2 s retry): {took:.1f} s")


async def test_a_leader_that_stops_cleanly_hands_over_at_once(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    leader = await gateways.start(identity="replica-a", lease_duration_seconds=15.0, renew_deadline_seconds=10.0)
    await gateways.leading(leader)
    follower = await gateways.start(identity="replica-b", lease_duration_seconds=15.0, renew_deadline_seconds=10.0)
    await gateways.stop(leader)
    began = time.monotonic()
    await eventually_async(
        lambda: follower.leading, timeout=12, interval=0.05, blocking=False
    )  # released, not expired (15 s)
    print(f"\nclean hand-over: {time.monotonic() - began:.1f} s")


async def test_a_new_leader_drops_a_report_older_than_the_one_its_predecessor_wrote(
    cluster: Cluster, gateways: Gateways, temporal: Client
) -> None:
    """Report 5 reaches the old leader, then a retried report 4 reaches the new one (a fresh process)."""
    obj = cluster.create()
    meta = obj["metadata"]
    ref = ExperimentRef(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        generation=meta["generation"],
        creation_timestamp=datetime.fromisoformat(meta["creationTimestamp"]),
    )

    async def report(gateway: Gateway, sequence: int, phase: ExperimentPhase) -> None:
        status = ExperimentStatus(phase=phase, temporal=TemporalRef(workflow_id=Cluster.workflow_id_of(obj)))
        inp = ReportStatusInput(experiment=ref, sequence=sequence, status=status)
        await ActivityEnvironment().run(gateway.writer.report_status, inp)

    leader = await gateways.start(identity="replica-a")
    await gateways.leading(leader)
    await workflow_started(temporal, Cluster.workflow_id_of(obj))  # no worker runs it: the test reports
    await report(leader, 5, ExperimentPhase.RUNNING)
    await gateways.kill(leader)
    successor = await gateways.start(identity="replica-b")
    await gateways.leading(successor)

    await report(successor, 4, ExperimentPhase.PROVISIONING)
    stored = (cluster.get(meta["name"]) or {})["status"]
    assert stored["phase"] == "Running"
    assert stored["reportSequence"] == 5
    await report(successor, 6, ExperimentPhase.COMPLETE)
    stored = (cluster.get(meta["name"]) or {})["status"]
    assert (stored["phase"], stored["reportSequence"]) == ("Complete", 6)
