"""Builds the Worker of the ``experiments`` task queue and registers the search attributes.

Activities are passed in: integration modules provide the real ones, tests provide fakes with the
same names and types (activities/contracts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.contracts import EXPERIMENTS_TASK_QUEUE
from workflows.experiment import ExperimentWorkflow
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

WORKFLOWS: list[type] = [ExperimentWorkflow]


def build_worker(
    client: Client, activities: Sequence[Callable[..., Any]], task_queue: str = EXPERIMENTS_TASK_QUEUE, **options: Any
) -> Worker:
    """The experiments worker: the workflow plus the given activity implementations."""
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=list(activities), **options)


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
