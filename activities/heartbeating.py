"""Heartbeat an activity *while* one slow call runs: a Claude pass, a rate-limited GitHub call, a large S3 put.

An activity scheduled with a heartbeat timeout must heartbeat while it is blocked, not only between
steps: one Messages call with thousands of output tokens takes minutes, and a heartbeat before the call
alone lets the attempt time out while the call is healthy, so the retry pays for it a second time.
:func:`heartbeating` awaits the work and heartbeats a note (with the time spent so far) every few
seconds until the work finishes. The SDK throttles what it sends to the server to 80 % of the heartbeat
timeout, so heartbeating often costs nothing.

Cancellation propagates: when the activity is cancelled (the workflow stopped waiting, the server timed
the attempt out, the worker shuts down) the work is cancelled and ``CancelledError`` raised. An async call
(an HTTP stream) stops at once; a blocking call run with ``asyncio.to_thread`` cannot be interrupted and
finishes in its thread, bounded by that client's own request timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")

LONGEST_SILENCE = 5.0
"""Seconds between heartbeats when the activity has no heartbeat timeout (they still carry cancellation)."""


def heartbeat_every() -> float:
    """A third of the activity's heartbeat timeout, so two heartbeats can be lost before it expires."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        return LONGEST_SILENCE
    return max(0.05, min(LONGEST_SILENCE, timeout.total_seconds() / 3))


async def heartbeating(work: Awaitable[T], note: str | Callable[[], str]) -> T:
    """Await ``work`` (``asyncio.to_thread(f, ...)`` for a blocking call), heartbeating ``note`` meanwhile.

    ``note`` may be a function, read at every heartbeat, so a stream can report its progress.
    """
    task = asyncio.ensure_future(work)
    began = time.monotonic()
    every = heartbeat_every()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            text = note() if callable(note) else note
            activity.heartbeat(f"{text} ({time.monotonic() - began:.0f} s)")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
