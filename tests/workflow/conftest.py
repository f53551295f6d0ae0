"""Fixtures for the workflow specifications: time-skipping server, fake lab, experiment runner."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import EXPERIMENTS_TASK_QUEUE, GATEWAY_TASK_QUEUE, ExperimentRef
from api import names
from api.experiment import ExperimentSpec, ExperimentStatus
from tests.fixtures.eventually import eventually_async
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


MANUAL = {"template": "hello-app", "completion": {"mode": "manual"}}
"""spec(workflow=MANUAL): the Argo workflow succeeds, then the experiment waits for `complete` or its TTL."""


class Run:
    def __init__(
        self, env: WorkflowEnvironment, lab: FakeLab, handle: WorkflowHandle[Any, Any], ref: ExperimentRef
    ) -> None:
        self.env, self.lab, self.handle, self.ref = env, lab, handle, ref

    async def result(self) -> ExperimentOutcome:
        return await self.handle.result()  # type: ignore[no-any-return]

    async def status(self) -> ExperimentStatus:
        return await self.handle.query(ExperimentWorkflow.status)

    async def until(self, check: Callable[[ExperimentStatus], bool], seconds: float = 60.0) -> ExperimentStatus:
        """Poll the status query (real time; the server does not skip time meanwhile)."""
        return await eventually_async(self.status, seconds, "the status query matched", until=check, interval=0.05)

    async def events(self) -> int:
        history = await self.handle.fetch_history()
        return len(history.events)

    async def scheduled(self, activity: str) -> list[datetime]:
        """When each call of ``activity`` was scheduled, in workflow time (skipped time included)."""
        history = await self.handle.fetch_history()
        return [
            e.event_time.ToDatetime(tzinfo=UTC)
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name == activity
        ]

    async def timers(self) -> list[timedelta]:
        history = await self.handle.fetch_history()
        return [
            e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            for e in history.events
            if e.HasField("timer_started_event_attributes")
        ]

    async def is_open(self) -> bool:
        description = await self.handle.describe()
        return description.status == WorkflowExecutionStatus.RUNNING


@asynccontextmanager
async def running(
    env: WorkflowEnvironment,
    lab: FakeLab,
    experiment_spec: ExperimentSpec,
    name: str = "hello-app-x1",
    client: Client | None = None,
    uid: str | None = None,
) -> AsyncIterator[Run]:
    """Workers for both task queues and one started ExperimentWorkflow (``client``: e.g. with a codec)."""
    client = client or env.client
    ref = ExperimentRef(
        namespace="experiments",
        name=name,
        uid=uid or str(uuid.uuid4()),
        creation_timestamp=await env.get_current_time(),
    )
    gateway = Worker(client, task_queue=GATEWAY_TASK_QUEUE, activities=lab.gateway_activities())
    async with build_worker(client, lab.activities()), gateway:
        handle = await client.start_workflow(
            ExperimentWorkflow.run,
            ExperimentInput(experiment=ref, spec=experiment_spec),
            id=names.workflow_id(ref.namespace, ref.name, ref.uid),
            task_queue=EXPERIMENTS_TASK_QUEUE,
        )
        yield Run(env, lab, handle, ref)
