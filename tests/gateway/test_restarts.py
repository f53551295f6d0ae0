"""Restarts and watch trouble: no duplicate workflow, no lost status, nothing missed after 410 Gone."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client

from api.experiment import ExperimentStatus
from crd_gateway.watch import ExperimentWatcher
from tests.fixtures.eventually import eventually_async
from tests.gateway.conftest import Cluster, Gateways
from tests.workflow.fakes import FakeLab
from workflows.messages import STATUS_QUERY

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_killing_and_restarting_the_gateway_mid_run_starts_no_duplicate_and_loses_no_status(
    cluster: Cluster, gateways: Gateways, lab: FakeLab, temporal: Client
) -> None:
    started_before = sample("crd_gateway_workflow_starts_total", result="started")
    first = await gateways.start()
    await gateways.leading(first)
    names = [cluster.create()["metadata"]["name"] for _ in range(10)]
    await eventually_async(lambda: sum(1 for n in names if cluster.phase(n)) >= 3, timeout=20)
    await gateways.kill(first)  # mid-run: some started, some not, reports in flight
    names += [cluster.create()["metadata"]["name"] for _ in range(10)]  # created while no gateway runs
    began = time.monotonic()
    second = await gateways.start()
    await gateways.leading(second, timeout=30)
    print(f"\nrestarted gateway leading {time.monotonic() - began:.1f} s after its start")
    await eventually_async(lambda: all(cluster.phase(n) == "Complete" for n in names), timeout=90, interval=0.5)
    print(f"all 20 Complete {time.monotonic() - began:.1f} s after the restart")

    assert sample("crd_gateway_workflow_starts_total", result="started") - started_before == 20
    for name in names:
        obj = cluster.get(name)
        assert obj is not None
        wid = Cluster.workflow_id_of(obj)
        assert await _count(temporal, wid) == 1, f"{name}: not exactly one run"
        final = await temporal.get_workflow_handle(wid).query(STATUS_QUERY, result_type=ExperimentStatus)
        stored = ExperimentStatus.model_validate(obj["status"])
        assert stored.phase == final.phase and stored.timeline == final.timeline
        assert [(x.type, x.status, x.reason) for x in stored.conditions or []] == [
            (x.type, x.status, x.reason) for x in final.conditions or []
        ]


async def _count(temporal: Client, wid: str) -> int:
    return (await temporal.count_workflows(f'WorkflowId = "{wid}"')).count


class ExpiringWatcher(ExperimentWatcher):
    """Fault injection: hold the next reconnect, then resume from a resourceVersion long compacted away."""

    hold = threading.Event()
    expire = threading.Event()

    def _open(self, resource_version: str | None) -> Any:
        while self.hold.is_set() and not self._stop.is_set():
            time.sleep(0.02)
        if self.expire.is_set():
            self.expire.clear()
            resource_version = "1"
        return super()._open(resource_version)


async def test_forced_watch_expiry_misses_nothing(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    gateway = await gateways.start(watcher_factory=ExpiringWatcher)
    await gateways.leading(gateway)
    early = [cluster.create()["metadata"]["name"] for _ in range(2)]
    await eventually_async(lambda: all(cluster.phase(n) == "Complete" for n in early), timeout=30)
    relists, gone = sample("crd_gateway_relists_total"), sample("crd_gateway_watch_restarts_total", cause="gone")

    ExpiringWatcher.hold.set()
    gateway.watchers[0]._abort_stream()  # the connection drops; the reconnect is held
    late = [cluster.create()["metadata"]["name"] for _ in range(5)]  # events the watch never sees
    cluster.delete(early[0])
    ExpiringWatcher.expire.set()
    ExpiringWatcher.hold.clear()
    began = time.monotonic()

    await eventually_async(lambda: all(cluster.phase(n) == "Complete" for n in late), timeout=30)
    await eventually_async(lambda: cluster.get(early[0]) is None, timeout=20, what="deletion seen through the relist")
    print(f"\nmissed creates Complete and missed delete done {time.monotonic() - began:.1f} s after the relist")
    assert sample("crd_gateway_watch_restarts_total", cause="gone") > gone
    assert sample("crd_gateway_relists_total") > relists


async def test_a_stalled_watch_is_reopened(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    stalls = sample("crd_gateway_watch_restarts_total", cause="stall")
    gateway = await gateways.start(watch_stall_seconds=1.0)
    await gateways.leading(gateway)
    began = time.monotonic()
    await eventually_async(
        lambda: sample("crd_gateway_watch_restarts_total", cause="stall") > stalls, timeout=30, blocking=False
    )
    print(f"\nquiet watch reopened {time.monotonic() - began:.1f} s after leading (stall limit 1 s)")
    name = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=30)


async def test_a_restarted_api_server_is_survived(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    gateway = await gateways.start(leader_election=False)
    await gateways.leading(gateway)
    began = time.monotonic()
    cluster.kube.control_plane.restart_apiserver()
    print(f"\nkube-apiserver ready {time.monotonic() - began:.1f} s after its restart")
    name = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=60)
    print(f"an Experiment created after it Complete {time.monotonic() - began:.1f} s after the restart")
