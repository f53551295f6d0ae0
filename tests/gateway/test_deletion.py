"""Deletion: cancel → the workflow's cleanup → finalizer released; never before cleanup ran."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus

from activities import contracts as c
from api.experiment import EXPERIMENT_FINALIZER
from crd_gateway.app import Gateway
from crd_gateway.observe import ObservedWorkflow, WorkflowState
from crd_gateway.temporal import TemporalWorkflows
from tests.gateway.conftest import Cluster, Gateways, eventually
from tests.workflow.fakes import FakeLab
from worker.app import build_worker
from workflows.messages import ExperimentInput

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


def watched_cleanup(lab: FakeLab, cluster: Cluster, seen: list[bool]) -> list[Callable[..., Any]]:
    """The lab's activities, with a cleanup that notes whether the Experiment still exists and takes 0.5 s."""
    activities = lab.activities()
    original = next(a for a in activities if a.__temporal_activity_definition.name == c.CLEANUP_EXPERIMENT)  # type: ignore[attr-defined]

    @activity.defn(name=c.CLEANUP_EXPERIMENT)
    async def cleanup(inp: c.CleanupInput) -> c.CleanupReport:
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
        await eventually(lambda: cluster.phase(name) == "Provisioning", timeout=20)
        await eventually(lambda: lab.called(c.WAIT_FOR_CLUSTER_READY), timeout=10)
        cluster.delete(name)
        await eventually(lambda: cluster.get(name) is None, timeout=30, what="Experiment gone")
    assert seen == [True]  # cleanup ran while the Experiment still existed
    assert lab.called(c.CLEANUP_EXPERIMENT) == ["app"] and lab.claims == set()
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


def cut_off(gateway: Gateway) -> Outage:
    outage = Outage(gateway.temporal, gateway.settings.workflow_task_queue)
    gateway.workflows = gateway.controller.workflows = gateway.executor.workflows = outage
    return outage


async def test_temporal_unreachable_keeps_the_finalizer_until_cleanup_can_run(
    cluster: Cluster, gateways: Gateways, temporal: Client
) -> None:
    lab = FakeLab(hang_clusters={"app"})
    async with build_worker(temporal, lab.activities()):
        gateway = await gateways.start()
        await gateways.leading(gateway)
        obj = cluster.create()
        name, wid = obj["metadata"]["name"], Cluster.workflow_id_of(obj)
        await eventually(lambda: cluster.phase(name) == "Provisioning", timeout=20)
        outage = cut_off(gateway)
        cluster.delete(name)
        await asyncio.sleep(3)
        stored = cluster.get(name)
        assert stored is not None and EXPERIMENT_FINALIZER in stored["metadata"]["finalizers"]
        assert (await temporal.get_workflow_handle(wid).describe()).status == WorkflowExecutionStatus.RUNNING
        assert lab.called(c.CLEANUP_EXPERIMENT) == []
        outage.down = False
        await eventually(lambda: cluster.get(name) is None, timeout=30, what="Experiment gone after the outage")
    assert lab.called(c.CLEANUP_EXPERIMENT) == ["app"]


async def test_no_workflow_is_started_while_temporal_is_unreachable(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    outage = cut_off(gateway)
    name = cluster.create()["metadata"]["name"]
    await eventually(lambda: EXPERIMENT_FINALIZER in (cluster.get(name) or {})["metadata"].get("finalizers", []))
    await asyncio.sleep(1)
    assert cluster.phase(name) is None
    outage.down = False
    await eventually(lambda: cluster.phase(name) == "Complete", timeout=30)
