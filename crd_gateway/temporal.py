"""The gateway's view of Temporal: describe, start, cancel, update, and which workflows run. Nothing else.

Describe never raises: an unreachable server is an observation (``UNREACHABLE``) the planner
handles by keeping the finalizer. Start uses the deterministic workflow id with REJECT_DUPLICATE,
so a second start (another replica, a restart, a retry) is "already started" and never a new run.
``running_ids`` is one paginated visibility query for every running ExperimentWorkflow: the sweep
over 10,000 cached Experiments costs a few pages, not 10,000 describes. Nothing here long-polls a
workflow's result (a frontend serves ~1,200 long polls per namespace): a workflow's close is learned
from its last status report or, failing that, by describing it (controller.py). Every RPC first
takes a token from the Temporal limiter.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from crd_gateway import metrics
from crd_gateway.observe import ObservedWorkflow, WorkflowState
from crd_gateway.ratelimit import RateLimiter
from workflows.messages import COMPLETE_UPDATE, REVIEW_UPDATE, CompleteRequest, ExperimentInput, ReviewRequest

WORKFLOW_TYPE = "ExperimentWorkflow"
RUNNING_QUERY = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
VISIBILITY_PAGE_SIZE = 1000
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
    async def running_ids(self) -> set[str]: ...


class TemporalWorkflows:
    def __init__(self, client: Client, task_queue: str, limiter: RateLimiter) -> None:
        self.client = client
        self.task_queue = task_queue
        self.limiter = limiter

    async def _rpc(self, call: str) -> None:
        await self.limiter.acquire()
        metrics.TEMPORAL_CALLS.labels(call).inc()

    async def describe(self, workflow_id: str) -> ObservedWorkflow:
        await self._rpc("describe")
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
        await self._rpc("start")
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
        await self._rpc("cancel")
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
        await self._rpc("update")
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            answer = await asyncio.wait_for(
                handle.execute_update(name, request, id=update_id, result_type=str), UPDATE_TIMEOUT.total_seconds()
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise UpdateRefused(cause.message if isinstance(cause, FailureError) else str(err)) from err
        return str(answer)

    async def running_ids(self) -> set[str]:
        """Ids of every running ExperimentWorkflow, page by page. Raises when Temporal does not answer.
        Visibility lags a moment behind starts and closes: callers treat the answer as a hint."""
        running: set[str] = set()
        token: bytes | None = None
        while True:
            await self._rpc("list_page")
            page = self.client.list_workflows(
                RUNNING_QUERY, page_size=VISIBILITY_PAGE_SIZE, next_page_token=token, rpc_timeout=RPC_TIMEOUT
            )
            await page.fetch_next_page()
            running.update(execution.id for execution in page.current_page or [])
            token = page.next_page_token
            if not token:
                return running
