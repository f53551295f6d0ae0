"""The worker as operators run it (`python -m worker`'s serve loop, as a process, against a real
Temporal): graceful drain on SIGTERM, /readyz that follows the connection, SDK metrics on /metrics,
JSON logs, and no start without a required payload key."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from activities.contracts import EXPERIMENTS_TASK_QUEUE, VALIDATE_EXPERIMENT, ExperimentRef
from api import names
from tests.deploy.test_observability import WORKER_SDK_METRICS
from tests.fakes.otlp_server import OtlpTraceReceiver
from tests.fixtures.eventually import eventually
from tests.fixtures.process import ServerProcess, free_port
from tests.worker.conftest import Temporal, http_ok, new_key, python_env
from tests.workflow.conftest import spec
from worker.codec import PayloadKeySettings, data_converter
from workflows.experiment import ExperimentWorkflow
from workflows.messages import ExperimentInput

KEYS = f"w-1:{new_key()}"


def readyz(port: int) -> tuple[int, str]:
    answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    return answer.status_code, answer.text


def start_worker(temporal: Temporal, root: Path, **extra_env: str) -> tuple[ServerProcess, int]:
    port = free_port()
    env = python_env(
        **extra_env,
        TEMPORAL_ADDRESS=temporal.address,
        WORKER_HEALTH_HOST="127.0.0.1",
        WORKER_HEALTH_PORT=str(port),
        WORKER_READINESS_INTERVAL_SECONDS="0.5",
        WORKER_GRACEFUL_SHUTDOWN_SECONDS="120",
        EXPERIMENT_PAYLOAD_KEYS=KEYS,
        EXPERIMENT_PAYLOAD_ENCRYPTION_REQUIRED="true",
        SLOW_ACTIVITY_DIR=str(root),
    )
    argv = [sys.executable, "-m", "tests.worker.slow_worker"]
    worker = ServerProcess("worker", argv, root / "worker.log", env=env)
    return worker.start(http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=90), port


async def start_experiment(address: str) -> str:
    client = await Client.connect(
        address, data_converter=data_converter(PayloadKeySettings(experiment_payload_keys=KEYS))
    )
    ref = ExperimentRef(
        namespace="experiments", name="drain-a1", uid=str(uuid.uuid4()), creation_timestamp=datetime.now(UTC)
    )
    workflow_id = names.workflow_id(ref.namespace, ref.name, ref.uid)
    await client.start_workflow(
        ExperimentWorkflow.run,
        ExperimentInput(experiment=ref, spec=spec(ttl_days=0)),
        id=workflow_id,
        task_queue=EXPERIMENTS_TASK_QUEUE,
    )
    return workflow_id


async def validation_events(address: str, workflow_id: str) -> list[str]:
    client = await Client.connect(address)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = {
        e.event_id
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == VALIDATE_EXPERIMENT
    }
    seen = []
    for e in history.events:
        for kind in ("started", "completed", "failed", "timed_out", "canceled"):
            attrs = getattr(e, f"activity_task_{kind}_event_attributes")
            if e.HasField(f"activity_task_{kind}_event_attributes") and attrs.scheduled_event_id in scheduled:
                seen.append(f"{kind} attempt {attrs.attempt}" if kind == "started" else kind)
    await client.get_workflow_handle(workflow_id).terminate("test over")
    return seen


@pytest.mark.slow
def test_sigterm_mid_activity_lets_it_finish_once_and_it_is_not_retried(
    temporal_server: Temporal, tmp_path: Path
) -> None:
    worker, port = start_worker(temporal_server, tmp_path)
    try:
        workflow_id = asyncio.run(start_experiment(temporal_server.address))
        attempts = tmp_path / "attempts"
        eventually(lambda: attempts.exists() and "started attempt 1" in attempts.read_text(), what="validation started")

        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "temporal_workflow_task_execution_latency" in metrics  # the SDK's, on the process's /metrics
        assert "temporal_activity_schedule_to_start_latency" in metrics
        assert 'service="experiment-worker"' in metrics

        assert worker.proc is not None
        os.killpg(worker.proc.pid, signal.SIGTERM)
        eventually(
            lambda: readyz(port) == (503, "draining: finishing running activities\n"),
            what="not ready while draining",
            tolerate=(httpx.HTTPError,),
        )
        assert worker.proc.poll() is None, "the worker exited before its running activity finished"
        (tmp_path / "release").touch()
        assert worker.proc.wait(90) == 0
    finally:
        worker.stop()

    assert attempts.read_text().splitlines() == ["started attempt 1", "finished"]
    assert asyncio.run(validation_events(temporal_server.address, workflow_id)) == ["started attempt 1", "completed"]
    lines = [line for line in (tmp_path / "worker.log").read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines), "every log line is a JSON object"
    assert any("draining" in json.loads(line)["message"] for line in lines)


def test_the_worker_takes_no_more_workflow_tasks_at_once_than_configured(
    temporal_server: Temporal, tmp_path: Path
) -> None:
    """The SDK's default is 100 at once; a restarted worker on a busy machine then replays so many at once
    that none finishes within the 10 s workflow task timeout (docs/resilience.md, the soak)."""
    worker, port = start_worker(temporal_server, tmp_path, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS="3")
    try:
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        worker.stop()
    slots = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("temporal_worker_task_slots_available") and 'worker_type="WorkflowWorker"' in line
    ]
    assert slots == [3.0], metrics


@pytest.mark.slow
def test_readyz_follows_the_temporal_connection(temporal_server: Temporal, tmp_path: Path) -> None:
    worker, port = start_worker(temporal_server, tmp_path)
    try:
        code, text = readyz(port)
        assert code == 200 and text == f"polling {EXPERIMENTS_TASK_QUEUE}\n"
        temporal_server.process.stop()
        eventually(
            lambda: readyz(port)[0] == 503 and "Temporal unreachable" in readyz(port)[1],
            what="not ready",
            tolerate=(httpx.HTTPError,),
        )
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200  # alive: no restart

        began = time.monotonic()
        temporal_server.restart(tmp_path / "temporal-2.log")
        print(f"\nTemporal ready {time.monotonic() - began:.1f} s after its restart")
        eventually(
            lambda: readyz(port)[0] == 200,
            120,
            "ready again once Temporal is back",
            tolerate=(httpx.HTTPError,),
        )
        print(f"worker /readyz 200 again {time.monotonic() - began:.1f} s after the restart")
    finally:
        worker.stop()


@pytest.mark.slow
def test_traces_of_workflow_and_activities_reach_the_otlp_endpoint(temporal_server: Temporal, tmp_path: Path) -> None:
    (tmp_path / "release").touch()  # validation finishes at once
    with OtlpTraceReceiver() as receiver:
        worker, port = start_worker(temporal_server, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
        try:
            asyncio.run(start_experiment(temporal_server.address))
            attempts = tmp_path / "attempts"
            eventually(lambda: attempts.exists() and "finished" in attempts.read_text(), what="validation finished")
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        finally:
            worker.stop()  # SIGTERM: the spans still buffered are flushed on the way out
        names_seen = {name for service, name in receiver.spans if service == "experiment-worker"}
    assert f"RunActivity:{VALIDATE_EXPERIMENT}" in names_seen, receiver.spans
    assert "RunWorkflow:ExperimentWorkflow" in names_seen, receiver.spans
    # The dashboard's worker metrics (tests/deploy/test_observability.py) are really exported.
    missing = {name for name in WORKER_SDK_METRICS if name not in metrics} - {"temporal_activity_execution_failed"}
    assert missing == set()


@pytest.mark.parametrize("module", ["worker", "crd_gateway"])
def test_required_encryption_without_a_key_stops_the_process_with_the_fix(module: str) -> None:
    env = python_env(EXPERIMENT_PAYLOAD_ENCRYPTION_REQUIRED="true", TEMPORAL_ADDRESS="127.0.0.1:1")
    done = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "EXPERIMENT_PAYLOAD_KEYS" in done.stderr and "Secret" in done.stderr, done.stderr[-2000:]
