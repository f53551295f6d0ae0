"""Task helpers of the lifecycle: run to the end despite a cancel, stop a task, fail fast on siblings.

Workflow code only: the tasks run on the workflow's deterministic event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar, cast

from temporalio import workflow

T = TypeVar("T")


async def uncancellable(work: Awaitable[T]) -> T:
    """Run to the end even if the workflow is cancelled meanwhile (a non-cancellable scope)."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise


async def settle(task: asyncio.Task[Any]) -> None:
    """Wait for a task that was told to stop; what it ends with no longer matters."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def all_or_first_failure(coros: Sequence[Awaitable[None]]) -> None:
    """Run concurrently; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(x) for x in coros]
    if not tasks:
        return
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:  # stopped from outside (TTL, deletion): stop the children too
        for task in tasks:
            task.cancel()
        for task in tasks:
            await uncancellable(settle(task))
        raise
    failed = next((t for t in tasks if t.done() and not t.cancelled() and t.exception()), None)
    if failed is None:
        return
    for task in tasks:
        task.cancel()
    for task in tasks:
        if not task.done():
            await settle(task)
    raise cast(BaseException, failed.exception())
