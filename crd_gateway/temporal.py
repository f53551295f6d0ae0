"""The gateway's view of Temporal: describe, start, cancel, update, await close. Nothing else.

Describe never raises: an unreachable server is an observation (``UNREACHABLE``) the planner
handles by keeping the finalizer. Start uses the deterministic workflow id with REJECT_DUPLICATE,
so a second start (another replica, a restart, a retry) is "already started" and never a new run.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from crd_gateway import metrics
from crd_gateway.backoff import Backoff
from crd_gateway.logs import log
from crd_gateway.observe import ObservedWorkflow, WorkflowState
from workflows.messages import COMPLETE_UPDATE, REVIEW_UPDATE, CompleteRequest, ExperimentInput, ReviewRequest

WORKFLOW_TYPE = "ExperimentWorkflow"
RPC_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)
"""An update waits for a workflow task; a workflow without a worker must not hold a reconcile forever."""

_CLOSE_NAMES = {
    WorkflowExecutionStatus.COMPLETED: "Completed",
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.CANCELED: "Canceled",
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "ContinuedAsNew",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
}


class UpdateRefused(Exception):
    """The workflow's validator rejected the request (a permanent answer, shown in a condition)."""


class Workflows(Protocol):
    async def describe(self, workflow_id: str) -> ObservedWorkflow: ...
    async def start(self, workflow_id: str, inp: ExperimentInput) -> bool: ...
    async def cancel(self, workflow_id: str) -> None: ...
    async def review(self, workflow_id: str, update_id: str, request: ReviewRequest) -> str: ...
    async def complete(self, workflow_id: str, update_id: str, request: CompleteRequest) -> str: ...
    async def wait_closed(self, workflow_id: str) -> None: ...


class TemporalWorkflows:
    def __init__(self, client: Client, task_queue: str, backoff: Backoff) -> None:
        self.client = client
        self.task_queue = task_queue
        self.backoff = backoff

    async def describe(self, workflow_id: str) -> ObservedWorkflow:
        try:
            description = await self.client.get_workflow_handle(workflow_id).describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return ObservedWorkflow(WorkflowState.NOT_FOUND)
            return ObservedWorkflow(WorkflowState.UNREACHABLE, error=f"{err.status.name}: {err.message}")
        except Exception as err:  # a dead connection surfaces as other errors too
            return ObservedWorkflow(WorkflowState.UNREACHABLE, error=repr(err))
        extended = description.raw_description.workflow_extended_info
        if description.status == WorkflowExecutionStatus.RUNNING:
            return ObservedWorkflow(
                WorkflowState.RUNNING, cancel_requested=extended.cancel_requested, run_id=description.run_id
            )
        close = _CLOSE_NAMES.get(description.status) if description.status else None
        return ObservedWorkflow(WorkflowState.CLOSED, run_id=description.run_id, close_status=close or "Closed")

    async def start(self, workflow_id: str, inp: ExperimentInput) -> bool:
        """True when this call started it; False when it already existed (also success)."""
        try:
            await self.client.start_workflow(
                WORKFLOW_TYPE,
                inp,
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                rpc_timeout=RPC_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def cancel(self, workflow_id: str) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id).cancel(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # closed meanwhile: nothing to cancel
                raise

    async def review(self, workflow_id: str, update_id: str, request: ReviewRequest) -> str:
        return await self._update(workflow_id, REVIEW_UPDATE, update_id, request)

    async def complete(self, workflow_id: str, update_id: str, request: CompleteRequest) -> str:
        return await self._update(workflow_id, COMPLETE_UPDATE, update_id, request)

    async def _update(self, workflow_id: str, name: str, update_id: str, request: object) -> str:
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            answer = await asyncio.wait_for(
                handle.execute_update(name, request, id=update_id, result_type=str), UPDATE_TIMEOUT.total_seconds()
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise UpdateRefused(cause.message if isinstance(cause, FailureError) else str(err)) from err
        return str(answer)

    async def wait_closed(self, workflow_id: str) -> None:
        """Return once the workflow has closed, however it ended. A long poll that fails is no close:
        it is retried after a jittered backoff, and only a describe that sees the workflow closed (or
        gone) ends the wait early, so a flapping connection cannot turn this into a busy loop."""
        handle = self.client.get_workflow_handle(workflow_id)
        failures = 0
        while True:
            try:
                await handle.result()
                return
            except WorkflowFailureError:  # failed, cancelled, terminated, timed out: closed all the same
                return
            except Exception as err:
                delay = self.backoff.delay(failures)
                failures += 1
                metrics.ERRORS.labels("wait_closed").inc()
                log.warning(
                    "waiting for the workflow to close failed (%s: %s); retrying in %.1fs",
                    type(err).__name__,
                    str(err)[:300],
                    delay,
                    extra={"workflow_id": workflow_id},
                )
            await asyncio.sleep(delay)
            if (await self.describe(workflow_id)).state in (WorkflowState.CLOSED, WorkflowState.NOT_FOUND):
                return
