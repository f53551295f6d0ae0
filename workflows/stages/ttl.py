"""TTL and cancellation: what ends a run from outside, and the Experiment object's deletion.

The TTL (creation + ``ttlDays``) interrupts any active stage; a finished experiment stays visible
until it, then the object is deleted. Deleting the Experiment cancels the workflow. Either way the
run still owes what its progress says (results, closing an open PR, cleanup) and pays it in a
non-cancellable scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.concurrency import settle, uncancellable
from workflows.lifecycle import Lifecycle
from workflows.progress import Cleanup, Stage
from workflows.stages.cleanup import clean_up
from workflows.stages.publish import close_pending_pr
from workflows.stages.results import collect_and_store, complete_with_results

with workflow.unsafe.imports_passed_through():
    from activities.contracts import DELETE_EXPERIMENT, GATEWAY_TASK_QUEUE, DeleteExperimentInput
    from workflows import policies
    from workflows.status import READY


async def ended_by_ttl(life: Lifecycle, stages: Coroutine[Any, Any, None]) -> bool:
    """Run the active stages, raced against the TTL. True when the TTL ended them."""
    active = asyncio.create_task(stages)
    try:
        left = life.ttl_left()
        if left is None:
            await active
            return False
        if left > timedelta(0):
            try:
                await workflow.wait_condition(active.done, timeout=left)
                active.result()
                return False
            except TimeoutError:
                pass
        active.cancel()
        await settle(active)
        return True
    except asyncio.CancelledError:
        active.cancel()
        await uncancellable(settle(active))
        raise


async def end_at_ttl(life: Lifecycle) -> None:
    """The TTL stopped the active stages: end the phase, pay what is owed, delete the Experiment."""
    days = life.spec.ttl_days
    if not life.book.finished():
        what = f"ttlDays {days} reached"
        if life.progress.reached(Stage.AWAITING_COMPLETION):
            await complete_with_results(life, "TTLExpired", f"{what}; manual experiment ended at its TTL", gate=False)
        else:
            life.fail("TTLExpired", f"{what} while {life.book.phase}")
            if life.progress.results_owed:
                await collect_and_store(life, gate=False)
    await close_pending_pr(life, "TTLExpired", f"ttlDays {days} reached before the review")
    if life.progress.cleanup_owed:
        await clean_up(life)
    await _delete_experiment(life, "TTLExpired")


async def linger_until_ttl(life: Lifecycle) -> None:
    """A finished experiment stays visible until its TTL, then the object is deleted."""
    left = life.ttl_left()
    if left is None:
        if life.progress.cleanup == Cleanup.RETAINED:
            await workflow.wait_condition(lambda: False)  # until the Experiment is deleted
        return
    if left > timedelta(0):
        await workflow.sleep(left)
    if life.progress.cleanup == Cleanup.RETAINED:
        await uncancellable(clean_up(life))
    await uncancellable(_delete_experiment(life, "TTLExpired"))


async def end_on_cancel(life: Lifecycle) -> None:
    """The Experiment was deleted: end the phase, close an open PR, clean up (its object is gone already)."""
    if not life.book.finished():
        life.fail("Cancelled", f"the Experiment was deleted while {life.book.phase}")
    await close_pending_pr(life, "Cancelled", "the Experiment was deleted before the review")
    if life.progress.cleanup_owed:
        await clean_up(life)


async def _delete_experiment(life: Lifecycle, reason: str) -> None:
    _ready_final_note(life, f"deleting the Experiment object ({reason}); results stay in S3 and Temporal")
    try:
        await workflow.execute_activity(
            DELETE_EXPERIMENT,
            DeleteExperimentInput(experiment=life.experiment, reason=reason),
            task_queue=GATEWAY_TASK_QUEUE,
            start_to_close_timeout=policies.STATUS_REPORT_TIMEOUT,
            schedule_to_close_timeout=policies.STATUS_REPORT_GIVE_UP,
            retry_policy=policies.STATUS_RETRY,
        )
    except ActivityError as err:
        workflow.logger.warning("deleting the Experiment failed: %s", err)


def _ready_final_note(life: Lifecycle, note: str) -> None:
    ready = life.book.status.condition(READY)
    if ready:
        life.ready(ready.status, ready.reason, f"{ready.message}; {note}")
