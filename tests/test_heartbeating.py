"""heartbeating(): a call longer than the heartbeat timeout ends in one attempt; cancelling the activity stops it.

On a real worker of the Temporal dev server, which enforces heartbeat timeouts (ActivityEnvironment does not).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.testing import WorkflowEnvironment

from activities.heartbeating import heartbeating
from tests.fixtures.one_activity import OneActivityWorker, OneCall

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]
HEARTBEAT_TIMEOUT = 2.0
LONGER = 3 * HEARTBEAT_TIMEOUT


class SlowCalls:
    """Activities whose one call outlasts the heartbeat timeout, with and without the helper."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    def activities(self) -> list[Callable[..., Any]]:
        calls = self

        @activity.defn(name="blocking_call_heartbeating")
        async def blocking_call_heartbeating(seconds: float) -> str:
            calls.attempts["heartbeating"] += 1
            await heartbeating(asyncio.to_thread(time.sleep, seconds), "sleeping in a thread")
            return "done"

        @activity.defn(name="blocking_call_heartbeat_before")
        async def blocking_call_heartbeat_before(seconds: float) -> str:
            calls.attempts["heartbeat before"] += 1
            activity.heartbeat("calling")  # what the analyzer did: once before the call, then silence
            await asyncio.to_thread(time.sleep, seconds)
            return "done"

        @activity.defn(name="async_call_heartbeating")
        async def async_call_heartbeating(seconds: float) -> str:
            async def call() -> None:
                calls.started.set()
                try:
                    await asyncio.sleep(seconds)
                except asyncio.CancelledError:
                    calls.cancelled.set()
                    raise

            await heartbeating(call(), "waiting for the call")
            return "done"

        return [blocking_call_heartbeating, blocking_call_heartbeat_before, async_call_heartbeating]


async def test_a_blocking_call_longer_than_the_heartbeat_timeout_ends_in_one_attempt(
    temporal_env: WorkflowEnvironment,
) -> None:
    calls = SlowCalls()
    async with OneActivityWorker(temporal_env.client, calls.activities()) as run:
        result = await run(OneCall("blocking_call_heartbeating", LONGER, HEARTBEAT_TIMEOUT, attempts=3))
    assert result == "done"
    assert calls.attempts["heartbeating"] == 1


async def test_a_heartbeat_only_before_the_call_is_timed_out_by_the_server(temporal_env: WorkflowEnvironment) -> None:
    calls = SlowCalls()
    async with OneActivityWorker(temporal_env.client, calls.activities()) as run:
        with pytest.raises(WorkflowFailureError) as failure:
            await run(OneCall("blocking_call_heartbeat_before", LONGER, HEARTBEAT_TIMEOUT))
    cause = failure.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, TimeoutError)
    assert cause.cause.type == TimeoutType.HEARTBEAT


async def test_cancelling_the_activity_cancels_the_call_it_waits_for(temporal_env: WorkflowEnvironment) -> None:
    calls = SlowCalls()
    async with OneActivityWorker(temporal_env.client, calls.activities()) as run:
        handle = await run.start(OneCall("async_call_heartbeating", 600.0, HEARTBEAT_TIMEOUT))
        await asyncio.wait_for(calls.started.wait(), timeout=60)
        await handle.cancel()
        await asyncio.wait_for(calls.cancelled.wait(), timeout=60)  # a deadline, not a speed assertion
        with pytest.raises(WorkflowFailureError):
            await handle.result()
