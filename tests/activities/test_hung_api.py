"""A Kubernetes API that accepts connections and never answers, through a real worker on the dev server.

Without request timeouts every attempt blocks one thread in a socket read for ever: Temporal's
start-to-close timeout ends the attempt, the retry blocks another thread, and the worker runs out.
With them each attempt fails on its own (a read timeout, retried by Temporal), and no thread is left
inside the kubernetes client afterwards.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.clusters.contracts import PROVISION_CLUSTER, ProvisionClusterInput, ProvisionedCluster
from activities.contracts import ExperimentRef
from activities.registry import KubernetesActivities
from activities.settings import ActivitySettings
from api.experiment import ClusterSpec
from tests.fixtures.eventually import eventually_async

ATTEMPTS = 3
ATTEMPT_TIMEOUT = timedelta(seconds=20)


class HungServer:
    """Accepts TCP connections and never reads or writes; counts the connections still open."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def hung_server() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


@workflow.defn(sandboxed=False)
class ProvisionOnce:
    @workflow.run
    async def run(self, inp: ProvisionClusterInput) -> ProvisionedCluster:
        return await workflow.execute_activity(
            PROVISION_CLUSTER,
            inp,
            result_type=ProvisionedCluster,
            start_to_close_timeout=ATTEMPT_TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=ATTEMPTS),
        )


def threads_in_kube_calls() -> int:
    """Threads whose stack is inside the kubernetes client's REST layer right now."""
    return sum(
        1
        for frame in sys._current_frames().values()
        if any("kubernetes/client/rest.py" in f.f_code.co_filename for f in _stack(frame))
    )


def _stack(frame: object) -> Iterator[object]:
    while frame is not None:
        yield frame
        frame = frame.f_back  # type: ignore[attr-defined]


@pytest.mark.asyncio(loop_scope="session")
async def test_hung_api_fails_each_attempt_and_leaves_no_thread_behind(
    temporal_env: WorkflowEnvironment, hung_server: HungServer, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "hung.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "hung",
                        "cluster": {
                            "server": f"https://127.0.0.1:{hung_server.port}",
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": "hung", "user": {"token": "unused"}}],
                "contexts": [{"name": "hung", "context": {"cluster": "hung", "user": "hung"}}],
                "current-context": "hung",
            }
        )
    )
    settings = ActivitySettings(hub_kubeconfig=kubeconfig, kube_connect_timeout_seconds=1, kube_read_timeout_seconds=1)
    provision_cluster = KubernetesActivities(settings).provision_cluster
    before = threads_in_kube_calls()
    queue = f"hung-{uuid.uuid4().hex[:8]}"
    inp = ProvisionClusterInput(
        experiment=ExperimentRef(
            namespace="experiments", name="hung", uid=str(uuid.uuid4()), creation_timestamp=datetime.now(UTC)
        ),
        target="app",
        cluster=ClusterSpec(type="gke"),
    )
    began = time.monotonic()
    async with Worker(temporal_env.client, task_queue=queue, workflows=[ProvisionOnce], activities=[provision_cluster]):
        with pytest.raises(WorkflowFailureError) as failure:
            await temporal_env.client.execute_workflow(
                ProvisionOnce.run, inp, id=f"hung-{uuid.uuid4().hex}", task_queue=queue
            )

    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    # The attempts failed by themselves (a client-side timeout), not by Temporal's start-to-close timeout.
    assert isinstance(activity_error.cause, ApplicationError), activity_error.cause
    assert activity_error.retry_state is not None and activity_error.retry_state.name == "MAXIMUM_ATTEMPTS_REACHED"
    print(f"last attempt failed with {activity_error.cause.type}: {activity_error.cause.message}")
    print(f"{ATTEMPTS} attempts failed on their own in {time.monotonic() - began:.1f} s (1 s timeouts)")

    await eventually_async(
        lambda: threads_in_kube_calls() <= before, what="no thread still blocked on the hung API server", blocking=False
    )
