"""How a stage calls an activity: within what is left of its phase deadline, failures as ExperimentFailed.

Status reports and the Experiment's deletion go to the gateway's task queue on their own terms
(workflows/status_pump.py, workflows/stages/ttl.py); every other activity goes through ``call``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityCancellationType

from workflows.concurrency import uncancellable

with workflow.unsafe.imports_passed_through():
    from activities.contracts import EXPERIMENTS_TASK_QUEUE
    from activities.errors import TRANSIENT_ERROR_REASONS, reason_for
    from api.base import format_duration
    from workflows.policies import CallOptions

T = TypeVar("T")


class ExperimentFailed(Exception):
    """Ends the active stages; becomes phase Failed with this reason and message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class PhaseBudget:
    """What is left of a phase deadline, for the schedule-to-close of the next activity."""

    def __init__(self, name: str, deadline: timedelta) -> None:
        self.name = name
        self.deadline = deadline
        self.ends_at = workflow.now() + deadline

    def remaining(self) -> timedelta:
        return self.ends_at - workflow.now()


async def call(
    activity: str,
    arg: Any,
    result_type: type[T],
    options: CallOptions,
    budget: PhaseBudget,
    waiting_for: str,
) -> T:
    """Execute an activity; map its permanent error or the phase deadline to ExperimentFailed.

    A short call is never cancelled: when the stage is stopped (sibling failure, TTL, deletion) the
    call in flight finishes first, so cleanup cannot race a create that is still running, and no
    cancel request can name an activity that completed meanwhile (the time-skipping test server
    fails the workflow task on such a request and the run hangs). Polling waits are abandoned.
    """
    try:
        running = workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            task_queue=EXPERIMENTS_TASK_QUEUE,
            start_to_close_timeout=options.start_to_close_timeout,
            schedule_to_close_timeout=options.schedule_to_close_timeout,
            retry_policy=options.retry_policy,
            heartbeat_timeout=options.heartbeat_timeout,
            cancellation_type=_cancellation(options),
        )
        result = await (running if options.abandon_on_cancel else uncancellable(running))
    except ActivityError as err:
        raise _failure_from(err, budget, waiting_for) from err
    return cast(T, result)


def _cancellation(options: CallOptions) -> ActivityCancellationType:
    return ActivityCancellationType.ABANDON if options.abandon_on_cancel else ActivityCancellationType.TRY_CANCEL


def _failure_from(err: ActivityError, budget: PhaseBudget, waiting_for: str) -> ExperimentFailed:
    cause = err.cause
    if isinstance(cause, ActivityTimeout) or err.retry_state == RetryState.TIMEOUT:
        last = _last_application_error(err)
        detail = f"; last error: {last.message}" if last else ""
        reason = TRANSIENT_ERROR_REASONS.get(last.type or "", "DeadlineExceeded") if last else "DeadlineExceeded"
        return ExperimentFailed(
            reason,
            f"{budget.name} deadline of {format_duration(budget.deadline)} exceeded while waiting for {waiting_for}"
            + detail,
        )
    if isinstance(cause, ApplicationError):
        return ExperimentFailed(reason_for(cause.type), f"{waiting_for}: {cause.message}")
    return ExperimentFailed("ActivityFailed", f"{waiting_for}: {err}")


def _last_application_error(err: BaseException) -> ApplicationError | None:
    """The last attempt's failure behind a timeout, if an activity raised one."""
    node: BaseException | None = err
    while node is not None:
        if isinstance(node, ApplicationError):
            return node
        node = getattr(node, "cause", None) or node.__cause__
    return None
