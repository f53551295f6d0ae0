"""Performs a plan's actions in order; the first failure stops the plan (the next reconcile re-plans).

Thin on purpose: every decision was made by the planner. The only judgement here is turning a
workflow's answer to an update into the request condition the user sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from api.experiment import COMPLETE_ANNOTATION, REVIEW_ANNOTATION, ConditionStatus, ExperimentStatus
from crd_gateway import metrics
from crd_gateway.kube import KubeApi
from crd_gateway.logs import experiment_context, log
from crd_gateway.observe import ObservedExperiment
from crd_gateway.planner import (
    COMPLETE_REQUEST,
    REVIEW_REQUEST,
    Action,
    AddFinalizer,
    CancelWorkflow,
    ConditionUpdate,
    PatchStatus,
    Plan,
    RecordLeftovers,
    RemoveFinalizer,
    SendComplete,
    SendReview,
    StartWorkflow,
    WaitForWorkflowClose,
    annotation_marker,
)
from crd_gateway.status_writer import StatusWriter, apply_conditions, now
from crd_gateway.temporal import UpdateRefused, Workflows
from workflows.messages import CompleteRequest, ReviewRequest

REQUESTED_BY = "annotation"
LEFTOVERS_REASON = "FinalizerReleased"


class Executor:
    def __init__(
        self,
        kube: KubeApi,
        workflows: Workflows,
        writer: StatusWriter,
        await_close: Callable[[str], None],
        started: Callable[[ObservedExperiment], None],
    ) -> None:
        """``await_close(key)``: the plan waits for the key's workflow to close (the controller re-checks).
        ``started(experiment)``: this call started the experiment's workflow."""
        self.kube = kube
        self.workflows = workflows
        self.writer = writer
        self.await_close = await_close
        self.started = started

    async def execute(self, plan: Plan, experiment: ObservedExperiment) -> None:
        for action in plan.actions:
            log.log(
                logging.DEBUG if isinstance(action, WaitForWorkflowClose) else logging.INFO,
                "executing %s",
                type(action).__name__,
                extra={
                    **experiment_context(experiment.namespace, experiment.name, experiment.workflow_id),
                    "action": type(action).__name__,
                },
            )
            await self._perform(action, experiment)
            metrics.ACTIONS.labels(type(action).__name__).inc()

    async def _perform(self, action: Action, experiment: ObservedExperiment) -> None:
        match action:
            case AddFinalizer():
                patched = await self.kube.add_finalizer(experiment.metadata_stub())
                if patched is not None:  # the first status write merges into it instead of reading it
                    self.writer.remember(patched)
            case StartWorkflow():
                started = await self.workflows.start(experiment.workflow_id, experiment.workflow_input())
                metrics.WORKFLOW_STARTS.labels("started" if started else "already_started").inc()
                if started:
                    self.started(experiment)
            case SendReview(value=value, decision=decision):
                review = ReviewRequest(decision=decision, reviewer=REQUESTED_BY)
                await self._request(
                    experiment,
                    REVIEW_REQUEST,
                    REVIEW_ANNOTATION,
                    value,
                    lambda uid: self.workflows.review(experiment.workflow_id, uid, review),
                )
            case SendComplete(value=value):
                complete = CompleteRequest(requested_by=REQUESTED_BY, reason=f"{COMPLETE_ANNOTATION}={value}")
                await self._request(
                    experiment,
                    COMPLETE_REQUEST,
                    COMPLETE_ANNOTATION,
                    value,
                    lambda uid: self.workflows.complete(experiment.workflow_id, uid, complete),
                )
            case CancelWorkflow():
                await self.workflows.cancel(experiment.workflow_id)
            case WaitForWorkflowClose():
                self.await_close(experiment.key)
            case PatchStatus(conditions=conditions, phase=phase):
                await self._patch(experiment, conditions, phase)
            case RecordLeftovers(message=message):
                context = experiment_context(experiment.namespace, experiment.name, experiment.workflow_id)
                log.warning("%s", message, extra=context)
                await self.writer.record_event(experiment.metadata_stub(), "Warning", LEFTOVERS_REASON, message)
            case RemoveFinalizer():
                await self.kube.remove_finalizer(experiment.metadata_stub())

    async def _request(
        self,
        experiment: ObservedExperiment,
        condition_type: str,
        annotation: str,
        value: str,
        send: Callable[[str], Any],
    ) -> None:
        """Send an update once per annotation value (the update id dedupes a resend) and record the answer."""
        update_id = f"{annotation.rsplit('/', 1)[-1]}-{value}"
        marker = annotation_marker(annotation, value)
        try:
            answer = await send(update_id)
            result = ConditionUpdate(condition_type, ConditionStatus.TRUE, "Accepted", marker + str(answer))
        except UpdateRefused as refused:
            result = ConditionUpdate(condition_type, ConditionStatus.FALSE, "Refused", marker + str(refused))
        await self._patch(experiment, (result,), None)

    async def _patch(self, experiment: ObservedExperiment, conditions: tuple[ConditionUpdate, ...], phase: Any) -> None:
        def change(current: ExperimentStatus) -> ExperimentStatus:
            return apply_conditions(current, conditions, experiment.generation, now(), phase)

        await self.writer.update_status(experiment.namespace, experiment.name, experiment.uid, change)
