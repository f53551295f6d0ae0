"""``python -m crd_gateway`` as a process: settings from the environment, JSON logs, clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
from temporalio.client import Client

from tests.fixtures.eventually import eventually_async
from tests.fixtures.kube import KubeCluster
from tests.fixtures.process import free_port
from tests.gateway.conftest import Cluster
from tests.workflow.fakes import FakeLab

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


async def test_the_gateway_process_runs_from_environment_settings_and_stops_on_sigterm(
    kube: KubeCluster, cluster: Cluster, lab: FakeLab, temporal: Client
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_KUBECONFIG": str(kube.kubeconfig),
        "GATEWAY_NAMESPACES": cluster.namespace,
        "GATEWAY_TEMPORAL_ADDRESS": temporal.service_client.config.target_host,
        "GATEWAY_LEASE_NAMESPACE": cluster.namespace,
        "GATEWAY_HEALTH_HOST": "127.0.0.1",
        "GATEWAY_HEALTH_PORT": str(port),
        "TEMPORAL_UI_URL": "http://ui.example",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "crd_gateway"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:

            async def leading() -> bool:
                return (await http.get("/readyz")).text.strip() == "leading"

            await eventually_async(leading, what="/readyz says leading", tolerate=(httpx.HTTPError,))
            name = cluster.create()["metadata"]["name"]
            await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=30)
        obj = cluster.get(name)
        assert obj is not None and obj["status"]["temporal"]["uiURL"].startswith("http://ui.example/namespaces/")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(x.get("workflow_id") == Cluster.workflow_id_of(obj) and x.get("experiment") for x in lines)
    assert lines[-1]["message"] == "shutting down"
