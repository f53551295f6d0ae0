"""Timeouts and retry policies of every activity call, in one place.

Long waits (cluster Ready, apps Healthy, Argo finished, analysis) are single activities that poll
inside and heartbeat; their overall bound is the phase deadline, passed as ``schedule_to_close``
so a 45-minute wait costs three history events and an overrun is an activity timeout, not a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.errors import PERMANENT_ERROR_TYPES

HEARTBEAT_TIMEOUT = timedelta(seconds=30)
"""A polling activity heartbeats every poll (about a second); 30 s of silence means its worker died and
another worker takes the wait over (the SDK sends heartbeats at most every 0.8 x this)."""

CLOUD_CALL_TIMEOUT = timedelta(minutes=2)
"""One attempt of a single Kubernetes/cloud API call (create claim, submit workflow, delete)."""

STATUS_REPORT_TIMEOUT = timedelta(seconds=10)
STATUS_REPORT_GIVE_UP = timedelta(hours=1)
"""A gateway that is down for an hour loses that snapshot; the next change sends a newer one."""

SLOW_CALL_TIMEOUT = timedelta(minutes=10)
"""One attempt of a call that heartbeats while it runs and may wait out a rate limit or a slow store
(S3 writes with retries, GitHub secondary limits): the heartbeat, not this bound, notices a dead worker."""

CLEANUP_ATTEMPT_TIMEOUT = timedelta(minutes=10)
MIN_SCHEDULE_TO_CLOSE = timedelta(seconds=1)

CLOUD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
)
"""Transient API errors retry with bounded backoff until the phase deadline; permanent ones stop."""

STATUS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=10)
)

REVIEW_ACTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
)


@dataclass(frozen=True)
class CallOptions:
    """The keyword arguments of one ``workflow.execute_activity`` call."""

    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    heartbeat_timeout: timedelta | None = None
    abandon_on_cancel: bool = False
    """Send no cancel request when the workflow stops waiting: the poll ends at its own timeout and
    cleanup deletes what it polls. (The Java test server rejects a cancel of a just-finished activity.)"""


def cloud_call(budget: timedelta) -> CallOptions:
    """A short call, retried until the remaining phase budget is spent."""
    budget = max(budget, MIN_SCHEDULE_TO_CLOSE)
    return CallOptions(min(CLOUD_CALL_TIMEOUT, budget), budget, CLOUD_RETRY)


def slow_call(budget: timedelta) -> CallOptions:
    """A single call that heartbeats while it runs: storing results, publishing the PR."""
    budget = max(budget, MIN_SCHEDULE_TO_CLOSE)
    return CallOptions(min(SLOW_CALL_TIMEOUT, budget), budget, CLOUD_RETRY, HEARTBEAT_TIMEOUT)


def long_wait(budget: timedelta) -> CallOptions:
    """A polling activity bounded by the remaining phase budget."""
    budget = max(budget, MIN_SCHEDULE_TO_CLOSE)
    return CallOptions(budget, budget, CLOUD_RETRY, HEARTBEAT_TIMEOUT, abandon_on_cancel=True)


def cleanup_call(budget: timedelta) -> CallOptions:
    budget = max(budget, MIN_SCHEDULE_TO_CLOSE)
    return CallOptions(min(CLEANUP_ATTEMPT_TIMEOUT, budget), budget, CLOUD_RETRY, HEARTBEAT_TIMEOUT)


STATUS_REPORT = CallOptions(STATUS_REPORT_TIMEOUT, STATUS_REPORT_GIVE_UP, STATUS_RETRY)
REVIEW_ACTION = CallOptions(SLOW_CALL_TIMEOUT, timedelta(hours=1), REVIEW_ACTION_RETRY, HEARTBEAT_TIMEOUT)
