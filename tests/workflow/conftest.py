"""Fixtures for the workflow specifications: time-skipping server, fake lab, experiment runner."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import EXPERIMENTS_TASK_QUEUE, GATEWAY_TASK_QUEUE, ExperimentRef
from api import names
from api.experiment import ExperimentSpec, ExperimentStatus
from tests.workflow.fakes import FakeLab
from worker.app import build_worker, register_search_attributes
from workflows.experiment import ExperimentWorkflow
from workflows.messages import ExperimentInput, ExperimentOutcome


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    await register_search_attributes(time_skipping_env.client)
    return time_skipping_env


def spec(**overrides: Any) -> ExperimentSpec:
    """hello-app: one GKE target with Tailscale observability, workflow mode, not published."""
    doc: dict[str, Any] = {
        "targets": [
            {
                "name": "app",
                "cluster": {"type": "gke", "preemptible": True},
                "components": [{"app": "hello-app"}],
                "observability": {"enabled": True, "transport": "tailscale"},
            }
        ],
        "workflow": {"template": "hello-app", "completion": {"mode": "workflow"}},
    }
    doc.update(overrides)
    return ExperimentSpec.model_validate(doc)


class Run:
    def __init__(self, env: WorkflowEnvironment, lab: FakeLab, handle: WorkflowHandle[Any, Any]) -> None:
        self.env, self.lab, self.handle = env, lab, handle

    async def result(self) -> ExperimentOutcome:
        return await self.handle.result()  # type: ignore[no-any-return]

    async def status(self) -> ExperimentStatus:
        return await self.handle.query(ExperimentWorkflow.status)

    async def until(self, check: Callable[[ExperimentStatus], bool], seconds: float = 10.0) -> ExperimentStatus:
        """Poll the status query (real time; the server does not skip time meanwhile)."""
        for _ in range(int(seconds / 0.05)):
            status = await self.status()
            if check(status):
                return status
            await asyncio.sleep(0.05)
        raise AssertionError(f"status never matched: {status}")

    async def events(self) -> int:
        history = await self.handle.fetch_history()
        return len(history.events)


@asynccontextmanager
async def running(
    env: WorkflowEnvironment, lab: FakeLab, experiment_spec: ExperimentSpec, name: str = "hello-app-x1"
) -> AsyncIterator[Run]:
    """Workers for both task queues and one started ExperimentWorkflow."""
    ref = ExperimentRef(
        namespace="experiments", name=name, uid=str(uuid.uuid4()), creation_timestamp=await env.get_current_time()
    )
    gateway = Worker(env.client, task_queue=GATEWAY_TASK_QUEUE, activities=lab.gateway_activities())
    async with build_worker(env.client, lab.activities()), gateway:
        handle = await env.client.start_workflow(
            ExperimentWorkflow.run,
            ExperimentInput(experiment=ref, spec=experiment_spec),
            id=names.workflow_id(ref.namespace, ref.name, ref.uid),
            task_queue=EXPERIMENTS_TASK_QUEUE,
        )
        yield Run(env, lab, handle)
