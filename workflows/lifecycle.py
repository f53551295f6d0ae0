"""What every stage of one ExperimentWorkflow run shares, and the moves between phases.

``Lifecycle`` holds the Experiment's identity and spec, the status book (what the user sees), the
progress (what the run still owes), the operator's requests (complete, review) and the patches this
run follows. Stages change the status only through it, so a phase change always updates the Ready
condition and the search attributes together. Deterministic code only: time is ``workflow.now()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows.progress import LifecycleProgress

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ExperimentRef
    from api.experiment import ConditionStatus, ExperimentPhase, ExperimentSpec, TemporalRef
    from workflows import search_attributes, status
    from workflows.changes import Changes
    from workflows.messages import CompleteRequest, ExperimentOutcome, ReviewRequest


class Lifecycle:
    changes: Changes
    """The patches this run follows: decided first thing in the run, before any other command."""

    def __init__(self, experiment: ExperimentRef, spec: ExperimentSpec) -> None:
        self.experiment = experiment
        self.spec = spec
        info = workflow.info()
        self.book = status.StatusBook(
            experiment.generation,
            [t.name for t in spec.targets],
            TemporalRef(workflow_id=info.workflow_id, run_id=info.run_id),
        )
        self.progress = LifecycleProgress()
        self.complete_request: CompleteRequest | None = None
        self.review_request: ReviewRequest | None = None
        self._search_phase: str | None = None
        self._hub_calls = 0

    @contextmanager
    def hub_call(self) -> Iterator[None]:
        """Around a short call to the hub API server (validate, create the claim, submit the Argo
        workflow): the status report waits for its answer and carries what it changed too, one report
        where there were two. It only takes long when that server fails, and the report goes to the
        same server. Runs started before ``status-waits-for-hub-calls`` report at once."""
        self._hub_calls += 1
        try:
            yield
        finally:
            self._hub_calls -= 1

    def status_waits(self) -> bool:
        """Whether the status report waits for a hub call in flight (:meth:`hub_call`)."""
        return self._hub_calls > 0 and self.changes.status_waits_for_hub_calls

    def enter(self, phase: ExperimentPhase, reason: str, message: str) -> None:
        """Enter ``phase``; the Ready condition says why (True when Complete, False when Failed)."""
        if self.book.set_phase(phase, workflow.now()):
            self._upsert_search_attributes()
        done = {ExperimentPhase.COMPLETE: ConditionStatus.TRUE, ExperimentPhase.FAILED: ConditionStatus.FALSE}
        self.ready(done.get(phase, ConditionStatus.UNKNOWN), reason, message)

    def fail(self, reason: str, message: str) -> None:
        """Failed with this reason, unless already failed (the first failure counts) or Complete (what
        fails later, PR, analysis or review, is a condition of its own)."""
        if self.book.phase == ExperimentPhase.FAILED:
            return
        if self.changes.terminal_stays_terminal and self.book.finished():
            return
        self.enter(ExperimentPhase.FAILED, reason, message)

    def ready(self, state: ConditionStatus, reason: str, message: str) -> None:
        self.condition(status.READY, state, reason, message)

    def condition(self, type_: str, state: ConditionStatus, reason: str, message: str) -> None:
        self.book.set_condition(type_, state, reason, message, workflow.now())

    def ttl_at(self) -> datetime | None:
        days = self.spec.ttl_days
        return None if days == 0 else self.experiment.creation_timestamp + timedelta(days=days)

    def ttl_left(self) -> timedelta | None:
        at = self.ttl_at()
        return None if at is None else at - workflow.now()

    def outcome(self) -> ExperimentOutcome:
        ready = self.book.status.condition(status.READY)
        return ExperimentOutcome(
            phase=self.book.phase or ExperimentPhase.PENDING,
            reason=ready.reason if ready else "",
            message=ready.message if ready else "",
            results_url=self.book.status.results_url,
            not_deleted=self.progress.not_deleted,
        )

    def _upsert_search_attributes(self) -> None:
        updates: list[Any] = [search_attributes.EXPERIMENT_PHASE.value_set(str(self.book.phase))]
        if self._search_phase is None:
            updates += [
                search_attributes.EXPERIMENT_NAME.value_set(self.experiment.name),
                search_attributes.EXPERIMENT_NAMESPACE.value_set(self.experiment.namespace),
                search_attributes.TARGET_TYPES.value_set(sorted({str(t.cluster.type) for t in self.spec.targets})),
            ]
        self._search_phase = str(self.book.phase)
        workflow.upsert_search_attributes(updates)
