"""Deletion: cancel → the workflow's cleanup → finalizer released; before cleanup was seen to finish
only at the deletion's bound, visibly, with what may be left recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    FetchWorkflowHistoryEventsInput,
    Interceptor,
    OutboundInterceptor,
    WorkflowExecutionStatus,
)

from activities.clusters.contracts import WAIT_FOR_CLUSTER_READY
from activities.contracts import CLEANUP_EXPERIMENT, CleanupInput, CleanupReport
from api.experiment import EXPERIMENT_FINALIZER
from crd_gateway.app import Gateway
from crd_gateway.executor import LEFTOVERS_REASON
from crd_gateway.observe import ObservedWorkflow, WorkflowState
from crd_gateway.planner import DELETING
from crd_gateway.ratelimit import RateLimiter
from crd_gateway.temporal import TemporalWorkflows
from tests.fixtures.eventually import eventually_async
from tests.gateway.conftest import Cluster, Gateways, manifest, workflow_started
from tests.workflow.fakes import FakeLab
from worker.app import build_worker
from workflows.messages import ExperimentInput

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


def watched_cleanup(lab: FakeLab, cluster: Cluster, seen: list[bool]) -> list[Callable[..., Any]]:
    """The lab's activities, with a cleanup that notes whether the Experiment still exists and takes 0.5 s."""
    activities = lab.activities()
    original = next(a for a in activities if a.__temporal_activity_definition.name == CLEANUP_EXPERIMENT)  # type: ignore[attr-defined]

    @activity.defn(name=CLEANUP_EXPERIMENT)
    async def cleanup(inp: CleanupInput) -> CleanupReport:
        seen.append(cluster.get(inp.experiment.name) is not None)
        await asyncio.sleep(0.5)
        return await original(inp)  # type: ignore[no-any-return]

    return [a for a in activities if a is not original] + [cleanup]


async def test_deleting_a_running_experiment_runs_cleanup_before_the_object_disappears(
    cluster: Cluster, gateways: Gateways, temporal: Client
) -> None:
    lab = FakeLab(hang_clusters={"app"})
    seen: list[bool] = []
    async with build_worker(temporal, watched_cleanup(lab, cluster, seen)):
        gateway = await gateways.start()
        await gateways.leading(gateway)
        obj = cluster.create()
        name, wid = obj["metadata"]["name"], Cluster.workflow_id_of(obj)
        await eventually_async(lambda: cluster.phase(name) == "Provisioning", timeout=20)
        await eventually_async(lambda: lab.called(WAIT_FOR_CLUSTER_READY), timeout=30, blocking=False)
        cluster.delete(name)
        await eventually_async(lambda: cluster.get(name) is None, timeout=30, what="Experiment gone")
    assert seen == [True]  # cleanup ran while the Experiment still existed
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"] and lab.claims == set()
    description = await temporal.get_workflow_handle(wid).describe()
    assert description.status == WorkflowExecutionStatus.CANCELED
    reasons = [(e.reason, e.message) for e in cluster.events(name)]
    assert any(r == "PhaseFailed" and "Cancelled" in m for r, m in reasons)


class Outage(TemporalWorkflows):
    """Temporal as the gateway sees it during an outage, switchable."""

    down = True

    async def describe(self, workflow_id: str) -> ObservedWorkflow:
        if self.down:
            return ObservedWorkflow(WorkflowState.UNREACHABLE, error="UNAVAILABLE: connection refused")
        return await super().describe(workflow_id)

    async def start(self, workflow_id: str, inp: ExperimentInput) -> bool:
        if self.down:
            raise ConnectionError("connection refused")
        return await super().start(workflow_id, inp)

    async def cancel(self, workflow_id: str) -> None:
        if self.down:
            raise ConnectionError("connection refused")
        await super().cancel(workflow_id)

    async def running_ids(self) -> set[str]:
        if self.down:
            raise ConnectionError("connection refused")
        return await super().running_ids()


def cut_off(gateway: Gateway) -> Outage:
    outage = Outage(gateway.temporal, *_rest(gateway))
    use(gateway, outage)
    return outage


def use(gateway: Gateway, workflows: TemporalWorkflows) -> None:
    gateway.workflows = gateway.controller.workflows = gateway.executor.workflows = workflows


async def test_temporal_unreachable_keeps_the_finalizer_until_cleanup_can_run(
    cluster: Cluster, gateways: Gateways, temporal: Client
) -> None:
    lab = FakeLab(hang_clusters={"app"})
    async with build_worker(temporal, lab.activities()):
        gateway = await gateways.start()
        await gateways.leading(gateway)
        obj = cluster.create()
        name, wid = obj["metadata"]["name"], Cluster.workflow_id_of(obj)
        await eventually_async(lambda: cluster.phase(name) == "Provisioning", timeout=20)
        outage = cut_off(gateway)
        cluster.delete(name)
        await asyncio.sleep(3)
        stored = cluster.get(name)
        assert stored is not None and EXPERIMENT_FINALIZER in stored["metadata"]["finalizers"]
        assert (await temporal.get_workflow_handle(wid).describe()).status == WorkflowExecutionStatus.RUNNING
        assert lab.called(CLEANUP_EXPERIMENT) == []
        outage.down = False
        began = time.monotonic()
        await eventually_async(lambda: cluster.get(name) is None, timeout=30, what="Experiment gone after the outage")
        print(f"\ncleaned up and deleted {time.monotonic() - began:.1f} s after Temporal was reachable again")
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"]


async def test_no_workflow_is_started_while_temporal_is_unreachable(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    outage = cut_off(gateway)
    name = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: EXPERIMENT_FINALIZER in (cluster.get(name) or {})["metadata"].get("finalizers", []))
    await asyncio.sleep(1)
    assert cluster.phase(name) is None
    outage.down = False
    began = time.monotonic()
    await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=30)
    print(f"\nComplete {time.monotonic() - began:.1f} s after Temporal was reachable again")


class HistoryReads(Interceptor):
    """Counts the gateway's reads of workflow histories: ``result()`` long-polls through them."""

    def __init__(self) -> None:
        self.reads = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counter = self

        class Counting(OutboundInterceptor):
            def fetch_workflow_history_events(self, input: FetchWorkflowHistoryEventsInput) -> Any:
                counter.reads += 1
                return super().fetch_workflow_history_events(input)

        return Counting(next)


def held_cleanup(lab: FakeLab, started: asyncio.Event, release: asyncio.Event) -> list[Callable[..., Any]]:
    """The lab's activities, with a cleanup that runs until the test releases it."""
    activities = lab.activities()
    original = next(a for a in activities if a.__temporal_activity_definition.name == CLEANUP_EXPERIMENT)  # type: ignore[attr-defined]

    @activity.defn(name=CLEANUP_EXPERIMENT)
    async def cleanup(inp: CleanupInput) -> CleanupReport:
        started.set()
        await release.wait()
        return await original(inp)  # type: ignore[no-any-return]

    return [a for a in activities if a is not original] + [cleanup]


async def test_the_workflow_s_last_status_report_ends_the_wait_for_its_cleanup_without_a_long_poll(
    cluster: Cluster, gateways: Gateways, temporal: Client
) -> None:
    """Neither the deletion poll nor the resync can end this wait (an hour each): only the report can."""
    lab = FakeLab(hang_clusters={"app"})
    started, release = asyncio.Event(), asyncio.Event()
    async with build_worker(temporal, held_cleanup(lab, started, release)):
        gateway = await gateways.start(deletion_poll_seconds=3600, resync_seconds=3600)
        await gateways.leading(gateway)
        reads = HistoryReads()
        use(gateway, TemporalWorkflows(Client(**{**temporal.config(), "interceptors": [reads]}), *_rest(gateway)))
        name = cluster.create()["metadata"]["name"]
        await eventually_async(lambda: lab.called(WAIT_FOR_CLUSTER_READY), timeout=30, blocking=False)
        cluster.delete(name)
        await asyncio.wait_for(started.wait(), 20)
        release.set()
        began = time.monotonic()
        await eventually_async(lambda: cluster.get(name) is None, timeout=30, what="Experiment gone after cleanup")
        print(f"\ndeleted {time.monotonic() - began:.1f} s after cleanup was released")
    assert reads.reads == 0  # no result() long poll, no history read at all
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"]


def _rest(gateway: Gateway) -> tuple[str, RateLimiter]:
    return gateway.settings.workflow_task_queue, gateway.workflows.limiter


async def test_a_deletion_the_workflow_cannot_finish_is_held_visibly_then_released_with_leftovers_recorded(
    cluster: Cluster, gateways: Gateways, temporal: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """No worker serves the workflow (the hub is down), so the cancelled workflow never closes."""
    gateway = await gateways.start(deletion_grace_seconds=3600)
    await gateways.leading(gateway)
    obj = cluster.create(manifest(deadlines={"cleanup": "1s"}))
    name, wid = obj["metadata"]["name"], Cluster.workflow_id_of(obj)
    await workflow_started(temporal, wid)
    cluster.delete(name)

    def deleting() -> dict[str, Any] | None:
        conditions = ((cluster.get(name) or {}).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == DELETING), None)

    condition = await eventually_async(deleting, timeout=20, what="a Deleting condition")
    since = datetime.fromisoformat(cluster.get(name)["metadata"]["deletionTimestamp"])  # type: ignore[index]
    release_at = since + timedelta(seconds=1) + timedelta(hours=1)
    assert (condition["status"], condition["reason"]) == ("True", "WaitingForCleanup")
    assert condition["message"] == (
        f"waiting for workflow {wid} to delete what the experiment created;"
        f" deleting since {since:%Y-%m-%dT%H:%M:%SZ};"
        f" the finalizer is released at {release_at:%Y-%m-%dT%H:%M:%SZ} at the latest"
    )
    description = await temporal.get_workflow_handle(wid).describe()
    assert description.raw_description.workflow_extended_info.cancel_requested

    # A replica with a shorter grace takes over: the release time follows from the object, so it is past.
    await gateways.stop(gateway)
    began = time.monotonic()
    successor = await gateways.start(deletion_grace_seconds=0)
    await eventually_async(lambda: cluster.get(name) is None, timeout=30, what="finalizer released at the bound")
    print(f"\nfinalizer released {time.monotonic() - began:.1f} s after the successor (grace 0) started")
    await gateways.stop(successor)

    (event,) = [e for e in cluster.events(name) if e.reason == LEFTOVERS_REASON]
    assert event.type == "Warning"
    assert f"workflow {wid} has not finished its cleanup (it goes on without the object)" in event.message
    assert "possibly left:" in event.message and f"argo-workflows/{name}-validation" in event.message
    assert any(r.levelname == "WARNING" and r.getMessage() == event.message for r in caplog.records)
    assert (await temporal.get_workflow_handle(wid).describe()).status == WorkflowExecutionStatus.RUNNING
