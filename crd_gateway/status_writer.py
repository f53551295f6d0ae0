"""The activities the gateway serves on the ``crd-gateway`` task queue: the only writer of Experiments.

``report_status`` replaces the status subresource with the workflow's snapshot (read, merge, PUT
with the read resourceVersion; a 409 re-reads and retries), keeping the gateway's own request
conditions, ``observedGeneration`` and the Temporal UI link, and records Events for phase changes
and failures. A report older than one already written (a retried attempt that lost the race) is
dropped. ``delete_experiment`` deletes the object with a uid precondition (the workflow's TTL).
An Experiment that is gone is not an error: the workflow must not retry for an hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiException
from temporalio import activity

from activities.contracts import DELETE_EXPERIMENT, REPORT_STATUS, DeleteExperimentInput, ReportStatusInput
from api.experiment import Condition, ConditionStatus, ExperimentPhase, ExperimentStatus
from crd_gateway import metrics
from crd_gateway.kube import Gone, KubeApi
from crd_gateway.logs import experiment_context, log
from crd_gateway.observe import parse_status
from crd_gateway.planner import GATEWAY_CONDITIONS, READY, ConditionUpdate

CONFLICT_RETRIES = 8


def ui_link(base: str | None, namespace: str, workflow_id: str) -> str | None:
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}" if base else None


def merge_report(
    report: ExperimentStatus, current: ExperimentStatus, generation: int, ui_url: str | None
) -> ExperimentStatus:
    """The workflow's snapshot, plus what only the gateway knows. Pure."""
    merged = report.model_copy(deep=True)
    merged.observed_generation = merged.observed_generation or generation
    conditions = [c for c in merged.conditions or [] if c.type not in GATEWAY_CONDITIONS]
    conditions += [c for c in current.conditions or [] if c.type in GATEWAY_CONDITIONS]
    for condition in conditions:
        if condition.observed_generation is None:
            condition.observed_generation = merged.observed_generation
    merged.conditions = conditions or None
    if merged.temporal is not None and merged.temporal.ui_url is None:
        merged.temporal.ui_url = ui_url
    return merged


def apply_conditions(
    current: ExperimentStatus,
    updates: tuple[ConditionUpdate, ...],
    generation: int,
    now: datetime,
    phase: ExperimentPhase | None = None,
) -> ExperimentStatus:
    """Gateway-written conditions (and phase, only while unfinished); lastTransitionTime kept when unchanged."""
    status = current.model_copy(deep=True)
    if phase is not None and status.phase not in (ExperimentPhase.COMPLETE, ExperimentPhase.FAILED):
        status.phase = phase
        status.observed_generation = generation
        if phase in (ExperimentPhase.COMPLETE, ExperimentPhase.FAILED) and status.completed_at is None:
            status.completed_at = now
    elif phase is not None:
        updates = tuple(u for u in updates if u.type != READY)  # a finished experiment keeps its verdict
    conditions = list(status.conditions or [])
    for update in updates:
        old = status.condition(update.type)
        same = old is not None and old.status == update.status
        new = Condition(
            type=update.type,
            status=update.status,
            observed_generation=generation,
            last_transition_time=old.last_transition_time if same and old else now,
            reason=update.reason,
            message=update.message[:32768],
        )
        conditions = [c for c in conditions if c.type != update.type] + [new]
    status.conditions = conditions or None
    return status


def status_events(before: ExperimentStatus, after: ExperimentStatus) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events a status change deserves: phase changes and new failures."""
    events: list[tuple[str, str, str]] = []
    ready = after.condition(READY)
    # Reports coalesce (the workflow sends the latest status), so a report can skip a phase; the
    # timeline cannot, so every phase entered since the last write gets its Event.
    entered = [t.phase for t in (after.timeline or [])[len(before.timeline or []) :]]
    if not entered and after.phase and after.phase != before.phase:
        entered = [after.phase]
    previous = before.phase
    for i, phase in enumerate(entered):
        detail = f": {ready.reason}: {ready.message}" if ready and i == len(entered) - 1 else ""
        kind = "Warning" if phase == ExperimentPhase.FAILED else "Normal"
        events.append((kind, f"Phase{phase}", f"{previous or 'New'} → {phase}{detail}"))
        previous = phase
    for condition in after.conditions or []:
        if condition.type == READY or condition.status != ConditionStatus.FALSE:
            continue
        old = before.condition(condition.type)
        if old is None or (old.status, old.reason) != (condition.status, condition.reason):
            events.append(("Warning", condition.reason, f"{condition.type}: {condition.message}"))
    return events


class StatusWriter:
    def __init__(self, kube: KubeApi, temporal_namespace: str, ui_url: str | None, identity: str) -> None:
        self.kube = kube
        self.temporal_namespace = temporal_namespace
        self.ui_url = ui_url
        self.identity = identity
        self._written: dict[str, int] = {}
        """Highest sequence written per Experiment uid (lost on restart; see the module docstring)."""

    def activities(self) -> list[Callable[..., Any]]:
        return [self.report_status, self.delete_experiment]

    @activity.defn(name=REPORT_STATUS)
    async def report_status(self, inp: ReportStatusInput) -> None:
        ref = inp.experiment
        if inp.sequence <= self._written.get(ref.uid, 0):
            metrics.STATUS_WRITES.labels("stale").inc()
            return
        began = time.perf_counter()
        ui_url = (
            ui_link(self.ui_url, self.temporal_namespace, inp.status.temporal.workflow_id)
            if inp.status.temporal
            else None
        )

        def merge(current: ExperimentStatus) -> ExperimentStatus:
            return merge_report(inp.status, current, ref.generation, ui_url)

        written = await self.update_status(ref.namespace, ref.name, ref.uid, merge)
        metrics.STATUS_WRITE_SECONDS.observe(time.perf_counter() - began)
        if written:
            self._written[ref.uid] = max(inp.sequence, self._written.get(ref.uid, 0))
        log.info(
            "status report %s",
            "written" if written else "dropped: Experiment gone",
            extra={**experiment_context(ref.namespace, ref.name), "sequence": inp.sequence, "phase": inp.status.phase},
        )

    @activity.defn(name=DELETE_EXPERIMENT)
    async def delete_experiment(self, inp: DeleteExperimentInput) -> None:
        ref = inp.experiment
        deleted = await self.kube.delete_experiment(ref.namespace, ref.name, ref.uid)
        log.info(
            "deleting Experiment (%s): %s",
            inp.reason,
            "requested" if deleted else "already gone",
            extra=experiment_context(ref.namespace, ref.name),
        )

    async def update_status(
        self, namespace: str, name: str, uid: str, change: Callable[[ExperimentStatus], ExperimentStatus]
    ) -> bool:
        """Read-modify-write of the status with conflict retry. False when the Experiment is gone."""
        for _ in range(CONFLICT_RETRIES):
            try:
                obj = await self.kube.get_experiment(namespace, name, uid)
            except Gone:
                metrics.STATUS_WRITES.labels("gone").inc()
                return False
            before = parse_status(obj.get("status"))
            after = change(before)
            try:
                stored = await self.kube.replace_status(obj, after.to_wire())
            except ApiException as err:
                if err.status == 409:
                    metrics.STATUS_WRITES.labels("conflict_retry").inc()
                    continue
                if err.status == 404:
                    metrics.STATUS_WRITES.labels("gone").inc()
                    return False
                raise
            metrics.STATUS_WRITES.labels("written").inc()
            await self._record_events(stored, before, after)
            return True
        raise RuntimeError(f"status of {namespace}/{name}: still conflicting after {CONFLICT_RETRIES} attempts")

    async def _record_events(self, obj: dict[str, Any], before: ExperimentStatus, after: ExperimentStatus) -> None:
        for event_type, reason, message in status_events(before, after):
            try:
                await self.kube.record_event(obj, event_type, reason, message, self.identity)
            except Exception:  # an Event is a courtesy; the status is already written
                metrics.ERRORS.labels("event").inc()
                log.warning("recording an Event failed", exc_info=True)


def now() -> datetime:
    return datetime.now(UTC)
