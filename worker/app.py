"""Builds the Worker of the ``experiments`` task queue and registers the search attributes.

Activities are passed in: integration modules provide the real ones, tests provide fakes with the
same names and types (activities/contracts.py).

The workflow sandbox passes ``workflows`` through: its modules are imported once and shared by every
run instead of being imported again for each new run (8 % of a busy worker's CPU, and a copy of
them per cached run). They hold no module-level state and only constants (tuples, enums, frozen
dataclasses) at module level, so runs still share nothing they could change. The price is that the
sandbox no longer screens *their* calls for clocks, randomness or I/O; the committed histories
replay under the full sandbox (tests/workflow/test_replay.py), which still does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.contracts import EXPERIMENTS_TASK_QUEUE
from workflows.experiment import ExperimentWorkflow
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

WORKFLOWS: list[type] = [ExperimentWorkflow]
SHARED_WORKFLOW_MODULES = ("workflows",)


def build_worker(
    client: Client, activities: Sequence[Callable[..., Any]], task_queue: str = EXPERIMENTS_TASK_QUEUE, **options: Any
) -> Worker:
    """The experiments worker: the workflow plus the given activity implementations."""
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*SHARED_WORKFLOW_MODULES)
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=list(activities),
        workflow_runner=runner,
        **options,
    )


async def register_search_attributes(client: Client) -> list[str]:
    """Register ExperimentPhase/Name/Namespace and TargetTypes on the client's namespace if missing.

    Works on the dev server, a real cluster and the Java time-skipping test server, which has no
    start-up flag for them and does not implement ListSearchAttributes (then all are added and an
    "already exists" answer is fine). Returns the names it asked to add. The dev server can also take
    ``WorkflowEnvironment.start_local(search_attributes=SEARCH_ATTRIBUTES)``.
    """
    known: set[str] = set()
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        except RPCError as err:
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    return sorted(missing)
