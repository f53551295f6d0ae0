"""The activities the gateway serves on the ``crd-gateway`` task queue: the only writer of Experiments.

``report_status`` replaces the status subresource with the workflow's snapshot (read, merge, PUT
with the read resourceVersion; a 409 re-reads and retries), keeping the gateway's own conditions,
``observedGeneration`` and the Temporal UI link, and records Events for phase changes and failures.
A report not newer than the one the stored status was written from (``status.reportSequence``) is
dropped: a retried attempt that lost the race, or an old report reaching a new leader. The mark
lives in the object, written in the same PUT as the status it guards, so no replica needs memory of
earlier writes and the resourceVersion makes check and write one step. The object a write returned
is kept (a bounded number of them) and the next report of that Experiment merges into it without
reading first: the gateway is its status' only writer, so it is usually current, and when it is not
(a spec or label edit, another replica's write) the PUT gets 409 and the retry reads the object.
That saves one GET of ~10 reports per experiment; the object the finalizer patch returned is kept the
same way (:meth:`StatusWriter.remember`), so the first report does not read either. ``delete_experiment``
deletes the object with a uid precondition (the workflow's TTL). An Experiment that is gone is not
an error: the workflow must not retry for an hour.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
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
WRITTEN_KEPT = 1024
"""Experiments whose last written object is kept: about the running ones (a report is ~10 KB)."""


def ui_link(base: str | None, namespace: str, workflow_id: str) -> str | None:
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}" if base else None


class Written(StrEnum):
    WRITTEN = "written"
    STALE = "stale"
    """Nothing to write: the report is not newer than the one the stored status came from."""
    GONE = "gone"
    """The Experiment (this uid) no longer exists."""


def merge_report(
    report: ExperimentStatus, sequence: int, current: ExperimentStatus, generation: int, ui_url: str | None
) -> ExperimentStatus | None:
    """The workflow's snapshot, plus what only the gateway knows; None when the stored status was
    written from this report or a newer one. Pure."""
    if sequence <= (current.report_sequence or 0):
        return None
    merged = report.model_copy(deep=True)
    merged.report_sequence = sequence
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
    def __init__(
        self,
        kube: KubeApi,
        temporal_namespace: str,
        ui_url: str | None,
        identity: str,
        on_report: Callable[[str], None],
    ) -> None:
        """``on_report(key)``: a report of the Experiment ``namespace/name`` was handled (the controller
        learns a deleted Experiment's workflow may have closed from it)."""
        self.kube = kube
        self.on_report = on_report
        self.temporal_namespace = temporal_namespace
        self.ui_url = ui_url
        self.identity = identity
        self._written: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        """(namespace, name, uid) → the object as the last status write returned it, oldest first."""

    def activities(self) -> list[Callable[..., Any]]:
        return [self.report_status, self.delete_experiment]

    @activity.defn(name=REPORT_STATUS)
    async def report_status(self, inp: ReportStatusInput) -> None:
        ref = inp.experiment
        began = time.perf_counter()
        ui_url = (
            ui_link(self.ui_url, self.temporal_namespace, inp.status.temporal.workflow_id)
            if inp.status.temporal
            else None
        )

        def merge(current: ExperimentStatus) -> ExperimentStatus | None:
            return merge_report(inp.status, inp.sequence, current, ref.generation, ui_url)

        written = await self.update_status(ref.namespace, ref.name, ref.uid, merge)
        metrics.STATUS_WRITE_SECONDS.observe(time.perf_counter() - began)
        self.on_report(f"{ref.namespace}/{ref.name}")
        log.info(
            "status report: %s",
            written,
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
        self, namespace: str, name: str, uid: str, change: Callable[[ExperimentStatus], ExperimentStatus | None]
    ) -> Written:
        """Read-modify-write of the status with conflict retry; ``change`` returns None to write nothing.

        The first attempt starts from the kept object when there is one; a conflict then is no race
        with another writer, only a stale copy, and is not counted as one.
        """
        key = (namespace, name, uid)
        kept = self._written.pop(key, None)
        for _ in range(CONFLICT_RETRIES):
            obj, from_kept, kept = kept, kept is not None, None
            if obj is None:
                try:
                    obj = await self.kube.get_experiment(namespace, name, uid)
                except Gone:
                    metrics.STATUS_WRITES.labels(Written.GONE).inc()
                    return Written.GONE
            before = parse_status(obj.get("status"))
            after = change(before)
            if after is None:
                self._keep(key, obj)
                metrics.STATUS_WRITES.labels(Written.STALE).inc()
                return Written.STALE
            try:
                stored = await self.kube.replace_status(obj, after.to_wire())
            except ApiException as err:
                if err.status == 409:
                    metrics.STATUS_WRITES.labels("kept_stale" if from_kept else "conflict_retry").inc()
                    continue
                if err.status == 404:
                    metrics.STATUS_WRITES.labels(Written.GONE).inc()
                    return Written.GONE
                raise
            self._keep(key, stored)
            metrics.STATUS_WRITES.labels(Written.WRITTEN).inc()
            await self._record_events(stored, before, after)
            return Written.WRITTEN
        raise RuntimeError(f"status of {namespace}/{name}: still conflicting after {CONFLICT_RETRIES} attempts")

    def remember(self, obj: dict[str, Any]) -> None:
        """Keep an object another write of the gateway returned (the finalizer patch) for the next status write."""
        meta = obj["metadata"]
        self._keep((meta["namespace"], meta["name"], meta["uid"]), obj)

    def _keep(self, key: tuple[str, str, str], obj: dict[str, Any]) -> None:
        """Remember the object for the next report (without managedFields, the bulk of it)."""
        meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        self._written[key] = {**obj, "metadata": meta}
        while len(self._written) > WRITTEN_KEPT:
            self._written.popitem(last=False)

    async def _record_events(self, obj: dict[str, Any], before: ExperimentStatus, after: ExperimentStatus) -> None:
        for event_type, reason, message in status_events(before, after):
            await self.record_event(obj, event_type, reason, message)

    async def record_event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Best effort: an Event is a courtesy next to the status or log line that says the same."""
        try:
            await self.kube.record_event(obj, event_type, reason, message, self.identity)
        except Exception:
            metrics.ERRORS.labels("event").inc()
            log.warning("recording an Event failed", exc_info=True)


def now() -> datetime:
    return datetime.now(UTC)
