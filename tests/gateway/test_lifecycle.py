"""Experiments in, one workflow each, status written back, Events recorded, health endpoints served."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client
from temporalio.service import RPCError

from activities.run.contracts import ArgoWorkflowPhase
from api.experiment import EXPERIMENT_FINALIZER
from crd_gateway.metrics import EXPERIMENTS_BY_PHASE
from crd_gateway.observe import ObservedExperiment
from crd_gateway.watch import ExperimentWatcher
from tests.fixtures.eventually import eventually_async
from tests.gateway.conftest import Cluster, Gateways, manifest
from tests.workflow.fakes import FakeLab

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_fifty_experiments_start_fifty_workflows_and_status_follows_each(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    started_before = sample("crd_gateway_workflow_starts_total", result="started")
    writes_before = sample("crd_gateway_status_write_seconds_count")
    seconds_before = sample("crd_gateway_status_write_seconds_sum")
    gateway = await gateways.start()
    await gateways.leading(gateway)
    names = [cluster.create()["metadata"]["name"] for _ in range(50)]

    def all_complete() -> bool:
        return all(cluster.phase(n) == "Complete" for n in names)

    await eventually_async(all_complete, timeout=120, interval=0.5, what="50 Experiments Complete")

    latencies = []
    for name in names:
        obj = cluster.get(name)
        assert obj is not None
        status, wid = obj["status"], Cluster.workflow_id_of(obj)
        assert status["temporal"]["workflowId"] == wid
        assert status["temporal"]["uiURL"] == f"http://localhost:8233/namespaces/default/workflows/{wid}"
        assert status["observedGeneration"] == obj["metadata"]["generation"]
        assert [t["phase"] for t in status["timeline"]] == ["Pending", "Provisioning", "Ready", "Running", "Complete"]
        ready = next(x for x in status["conditions"] if x["type"] == "Ready")
        assert ready["status"] == "True" and ready["observedGeneration"] == 1
        assert EXPERIMENT_FINALIZER in obj["metadata"]["finalizers"]
        description = await cluster.temporal.get_workflow_handle(wid).describe()
        assert description.run_id == status["temporal"]["runId"]
        latencies.append(description.start_time.timestamp() - cluster.created[name])
    assert sample("crd_gateway_workflow_starts_total", result="started") - started_before == 50
    reported = {s.experiment.name for s in lab.statuses}
    assert reported == set()  # every report went to the gateway, none to the fake
    writes = sample("crd_gateway_status_write_seconds_count") - writes_before
    write_seconds = sample("crd_gateway_status_write_seconds_sum") - seconds_before
    print(
        f"\ncreate→workflow started: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms; status writes: {writes:.0f}, mean {write_seconds / writes * 1000:.1f} ms"
    )
    reasons = {e.reason for e in cluster.events(names[0])}
    assert {"PhasePending", "PhaseProvisioning", "PhaseRunning", "PhaseComplete"} <= reasons


async def test_failure_is_an_event_and_a_condition(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    lab.argo_phase = ArgoWorkflowPhase.FAILED
    gateway = await gateways.start()
    await gateways.leading(gateway)
    name = cluster.create()["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(name) == "Failed", timeout=30)
    obj = cluster.get(name)
    assert obj is not None
    ready = next(x for x in obj["status"]["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ArgoWorkflowFailed")
    warnings = await eventually_async(lambda: [e for e in cluster.events(name) if e.type == "Warning"], timeout=30)
    assert any(e.reason == "PhaseFailed" and "ArgoWorkflowFailed" in e.message for e in warnings)


async def test_health_ready_and_metrics_endpoints(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    base = f"http://127.0.0.1:{gateway.health.port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.text.strip()) == (200, "leading")
        metrics = (await http.get("/metrics")).text
        for family in (
            "crd_gateway_watch_restarts_total",
            "crd_gateway_reconciles_total",
            "crd_gateway_workflow_starts_total",
            "crd_gateway_status_write_seconds",
            "crd_gateway_errors_total",
            "crd_gateway_leader",
        ):
            assert family in metrics
        assert (await http.get("/nope")).status_code == 404

    cluster.create()  # the dashboard's "experiments by phase" counts the leader's cache at scrape time
    counted = await eventually_async(
        lambda: sum(s.value for m in EXPERIMENTS_BY_PHASE.collect() for s in m.samples),
        what="experiments by phase",
        blocking=False,
    )
    assert counted >= 1


async def test_deleting_a_finished_experiment_is_immediate(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    closed = cluster.create()["metadata"]["name"]
    lingering = cluster.create(manifest(ttlDays=1))["metadata"]["name"]  # finished, workflow waits for its TTL
    await eventually_async(lambda: cluster.phase(closed) == cluster.phase(lingering) == "Complete", timeout=30)
    for name in (closed, lingering):
        began = time.monotonic()
        cluster.delete(name)
        # Immediate: no cleanup to wait for, so neither the TTL (a day) nor the deletion poll is waited out.
        await eventually_async(lambda name=name: cluster.get(name) is None, timeout=30, interval=0.05)  # type: ignore[misc]
        print(f"\n{name}: deleted in {(time.monotonic() - began) * 1000:.0f} ms")


class SkewedWatcher(ExperimentWatcher):
    """Objects labelled ``test/old-schema`` arrive without ``spec.targets``: a spec written under another
    schema version that this gateway's model rejects (the API server itself would not accept one)."""

    def convert(self, obj: dict[str, Any]) -> ObservedExperiment:
        if obj["metadata"].get("labels", {}).get("test/old-schema"):
            obj = {**obj, "spec": {k: v for k, v in obj["spec"].items() if k != "targets"}}
        return super().convert(obj)


async def test_an_unreadable_spec_fails_the_experiment_and_starts_no_workflow(
    cluster: Cluster, gateways: Gateways, lab: FakeLab, temporal: Client
) -> None:
    gateway = await gateways.start(watcher_factory=SkewedWatcher)
    await gateways.leading(gateway)
    body = manifest()
    body["metadata"]["labels"] = {"test/old-schema": "true"}
    obj = cluster.create(body)
    name = obj["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(name) == "Failed", timeout=20)
    stored = cluster.get(name)
    assert stored is not None
    ready = next(x for x in stored["status"]["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.targets: Field required" in ready["message"]
    assert "finalizers" not in stored["metadata"]
    with pytest.raises(RPCError):
        await temporal.get_workflow_handle(Cluster.workflow_id_of(obj)).describe()
    warnings = await eventually_async(lambda: [e for e in cluster.events(name) if e.type == "Warning"], timeout=30)
    assert warnings[0].reason == "PhaseFailed"
    cluster.delete(name)
    await eventually_async(lambda: cluster.get(name) is None, timeout=30)
