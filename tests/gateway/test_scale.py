"""What lets one gateway hold 10,000 Experiments: paged lists, sweeps through one visibility query,
and client-side rate limits (figures: bench/gateway_scale.py; no speed is asserted here)."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client

from activities.clusters.contracts import WAIT_FOR_CLUSTER_READY
from crd_gateway.ratelimit import RateLimiter
from tests.fixtures.eventually import eventually_async
from tests.gateway.conftest import Cluster, Gateways, workflow_started
from tests.workflow.fakes import FakeLab
from worker.app import build_worker

pytestmark = [pytest.mark.asyncio(loop_scope="session")]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.kube
async def test_experiments_created_while_no_gateway_runs_are_listed_in_pages_and_all_started(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    names = [cluster.create()["metadata"]["name"] for _ in range(7)]
    pages, starts = (
        sample("crd_gateway_list_pages_total"),
        sample("crd_gateway_workflow_starts_total", result="started"),
    )
    sweeps = sample("crd_gateway_sweeps_total", how="visibility")
    gateway = await gateways.start(list_page_size=2)
    await gateways.leading(gateway)
    await eventually_async(lambda: all(cluster.phase(n) == "Complete" for n in names), timeout=90, interval=0.5)
    assert sample("crd_gateway_list_pages_total") - pages >= 4  # 7 objects, 2 per page
    assert sample("crd_gateway_sweeps_total", how="visibility") - sweeps >= 1
    assert sample("crd_gateway_workflow_starts_total", result="started") - starts == 7


@pytest.mark.kube
async def test_a_sweep_notices_a_workflow_that_ended_without_reporting_and_describes_nothing_else(
    cluster: Cluster, gateways: Gateways, temporal: Client
) -> None:
    lab = FakeLab(hang_clusters={"app"})
    async with build_worker(temporal, lab.activities()):
        gateway = await gateways.start(resync_seconds=0.5)
        await gateways.leading(gateway)
        obj = cluster.create()
        name, wid = obj["metadata"]["name"], Cluster.workflow_id_of(obj)
        await workflow_started(temporal, wid)
        await eventually_async(lambda: lab.called(WAIT_FOR_CLUSTER_READY), timeout=30, blocking=False)
        await temporal.get_workflow_handle(wid).terminate("an operator's mistake")  # no report, no watch event
        await eventually_async(lambda: cluster.phase(name) == "Failed", timeout=30, what="Failed by a sweep")
        ready = next(c for c in (cluster.get(name) or {})["status"]["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "WorkflowTerminated"

        # Settled: every later sweep is one visibility query and not a single describe.
        await _sweeps(2)
        describes = sample("crd_gateway_temporal_calls_total", call="describe")
        await _sweeps(3)
        assert sample("crd_gateway_temporal_calls_total", call="describe") == describes


@pytest.mark.kube
async def test_a_new_experiment_and_its_workflow_s_reports_cost_one_start_and_no_describe(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    sweeps = sample("crd_gateway_sweeps_total", how="visibility")
    gateway = await gateways.start()
    await gateways.leading(gateway)
    # The sweep after the first list is done (its answer, older than the start below, would drop
    # what the gateway knows: safe, one describe more, but not what this test counts).
    await eventually_async(lambda: sample("crd_gateway_sweeps_total", how="visibility") > sweeps, timeout=30)
    describes, written = (
        sample("crd_gateway_temporal_calls_total", call="describe"),
        sample("crd_gateway_status_writes_total", result="written"),
    )
    name = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=90, interval=0.5)
    # Each report is a watch event and a reconcile; the gateway started the workflow, so it knows it
    # runs and plans without asking Temporal. (No resync sweep comes due during the test.)
    assert sample("crd_gateway_status_writes_total", result="written") - written >= 3
    assert sample("crd_gateway_temporal_calls_total", call="describe") == describes
    assert sample("crd_gateway_describes_avoided_total", reason="new") >= 1

    cluster.delete(name)  # deleting needs the truth (a cancel requested, the close): described again
    await eventually_async(lambda: cluster.get(name) is None, timeout=90, interval=0.5)
    assert sample("crd_gateway_temporal_calls_total", call="describe") > describes


async def _sweeps(count: int) -> None:
    target = sample("crd_gateway_sweeps_total", how="visibility") + count
    await eventually_async(
        lambda: sample("crd_gateway_sweeps_total", how="visibility") >= target, timeout=30, blocking=False
    )


@pytest.mark.kube
async def test_the_write_limiter_spaces_the_gateway_s_writes_and_every_experiment_still_completes(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    waited = sample("crd_gateway_rate_limit_wait_seconds_total", backend="kube_writes")
    gateway = await gateways.start(kube_qps=4, kube_burst=1)
    await gateways.leading(gateway)
    names = [cluster.create()["metadata"]["name"] for _ in range(4)]
    await eventually_async(lambda: all(cluster.phase(n) == "Complete" for n in names), timeout=120, interval=0.5)
    assert sample("crd_gateway_rate_limit_wait_seconds_total", backend="kube_writes") > waited


async def test_a_rate_limiter_lets_a_burst_through_then_spaces_calls_at_its_rate() -> None:
    limiter = RateLimiter("test", qps=20.0, burst=3)
    stamps = []
    for _ in range(8):
        await limiter.acquire()
        stamps.append(time.monotonic())
    # The bucket's promise (a floor, not a speed): past the burst, the k-th call comes no sooner than
    # (k - burst + 1) / qps after the first; each wait may be longer by the jitter.
    elapsed = [stamp - stamps[0] for stamp in stamps]
    assert all(elapsed[k] >= (k - 2) / 20.0 * 0.99 for k in range(3, 8)), elapsed


async def test_callers_queued_on_a_rate_limiter_all_get_through() -> None:
    limiter = RateLimiter("test", qps=50.0, burst=1)
    await asyncio.wait_for(asyncio.gather(*(limiter.acquire() for _ in range(10))), 30)
