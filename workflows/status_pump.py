"""Sends the Experiment's status to the CRD gateway, newest first, for as long as the run lives.

The pump runs beside the stages: whenever the status book changed it reports the newest version
(changes made during a send are coalesced into the next one), unless ``waits`` says a change is
about to follow (a hub call in flight, ``Lifecycle.hub_call``); ``flush`` lets the last one out
before the workflow closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.concurrency import settle

with workflow.unsafe.imports_passed_through():
    from activities.contracts import GATEWAY_TASK_QUEUE, REPORT_STATUS, ExperimentRef, ReportStatusInput
    from workflows.policies import STATUS_REPORT
    from workflows.status import StatusBook


class StatusPump:
    """Pumps from its creation until ``flush``."""

    def __init__(self, experiment: ExperimentRef, book: StatusBook, waits: Callable[[], bool]) -> None:
        self._experiment = experiment
        self._book = book
        self._waits = waits
        self._flushing = False
        self._reported = 0
        self._task = asyncio.create_task(self._pump())

    async def flush(self) -> None:
        """Wait until the newest status was sent and every handler finished, then stop pumping."""
        self._flushing = True
        await workflow.wait_condition(lambda: self._reported >= self._book.version and workflow.all_handlers_finished())
        self._task.cancel()
        await settle(self._task)

    async def _pump(self) -> None:
        while True:
            await workflow.wait_condition(
                lambda: self._book.version > self._reported and (self._flushing or not self._waits())
            )
            version = self._book.version
            try:
                await workflow.execute_activity(
                    REPORT_STATUS,
                    ReportStatusInput(experiment=self._experiment, sequence=version, status=self._book.snapshot()),
                    task_queue=GATEWAY_TASK_QUEUE,
                    start_to_close_timeout=STATUS_REPORT.start_to_close_timeout,
                    schedule_to_close_timeout=STATUS_REPORT.schedule_to_close_timeout,
                    retry_policy=STATUS_REPORT.retry_policy,
                )
            except ActivityError as err:
                workflow.logger.warning("status report %d lost: %s", version, err)
            self._reported = version
