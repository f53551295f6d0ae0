"""/readyz for the worker: ready only while Temporal answers and the server sees this worker polling.

"Started" is not "ready": a worker whose connection dropped, whose pollers died or that is draining
takes no task, and the Service (and an operator reading the probe) must know. Checked in the
background every few seconds, so a probe never waits on Temporal.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

log = logging.getLogger("worker")
QUEUE_TYPES = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}


class Readiness:
    def __init__(self, client: Client, interval: float) -> None:
        self.client, self.interval = client, interval
        self.state: tuple[bool, str] = (False, "starting")
        self.worker: Worker | None = None
        self.draining = False

    def check(self) -> tuple[bool, str]:
        if self.draining:
            return False, "draining: finishing running activities"
        return self.state

    async def run(self) -> None:
        while True:
            state = await self._observe()
            if state != self.state:
                log.info("readiness: %s", state[1])
            self.state = state
            await asyncio.sleep(self.interval)

    async def _observe(self) -> tuple[bool, str]:
        worker = self.worker
        if worker is None or not worker.is_running:
            return False, "worker not running"
        timeout = timedelta(seconds=max(1.0, self.interval))
        try:
            await self.client.service_client.check_health(timeout=timeout)
            missing = [name for name, kind in QUEUE_TYPES.items() if not await self._polled(worker, kind, timeout)]
        except Exception as err:  # any failure to reach the frontend is "not ready", never a crash
            return False, f"Temporal unreachable: {type(err).__name__}: {str(err)[:200]}"
        if missing:
            return False, f"not polling {worker.task_queue} ({', '.join(missing)} tasks) yet"
        return True, f"polling {worker.task_queue}"

    async def _polled(self, worker: Worker, kind: TaskQueueType.ValueType, timeout: timedelta) -> bool:
        answer = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.client.namespace, task_queue=TaskQueue(name=worker.task_queue), task_queue_type=kind
            ),
            timeout=timeout,
        )
        return any(poller.identity == self.client.identity for poller in answer.pollers)
