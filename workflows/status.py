"""Bookkeeping of the Experiment's status inside the workflow: pure, time passed in by the caller.

Every mutation bumps ``version``; the workflow's status pump sends the newest version to the
gateway, so whatever is changed here reaches the Experiment object, in order.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from api.experiment import (
    Condition,
    ConditionStatus,
    ExperimentPhase,
    ExperimentStatus,
    PhaseTransition,
    TargetStatus,
    TemporalRef,
)

READY = "Ready"
VALIDATED = "Validated"
PROVISIONED = "Provisioned"
DEPLOYED = "Deployed"
QUALITY_GATE = "QualityGate"
HYPOTHESIS = "Hypothesis"
PUBLISHED = "Published"
ANALYSIS_COMPLETE = "AnalysisComplete"
REVIEW_GATE = "ReviewGate"
CLEANUP = "Cleanup"

TERMINAL_PHASES = (ExperimentPhase.COMPLETE, ExperimentPhase.FAILED)


class StatusBook:
    def __init__(self, generation: int, target_names: list[str], temporal: TemporalRef) -> None:
        self.status = ExperimentStatus(
            phase=None,
            observed_generation=generation,
            targets=[TargetStatus(name=n, phase="Pending") for n in target_names],
            temporal=temporal,
            timeline=[],
            conditions=[],
        )
        self.version = 0

    @property
    def phase(self) -> ExperimentPhase | None:
        return self.status.phase

    def finished(self) -> bool:
        return self.status.phase in TERMINAL_PHASES

    def changed(self) -> None:
        self.version += 1

    def set_phase(self, phase: ExperimentPhase, now: datetime) -> bool:
        if self.status.phase == phase:
            return False
        self.status.phase = phase
        if self.status.timeline is None:
            self.status.timeline = []
        self.status.timeline.append(PhaseTransition(phase=phase, time=now))
        if phase in TERMINAL_PHASES and self.status.completed_at is None:
            self.status.completed_at = now
        self.changed()
        return True

    def as_if(self, phase: ExperimentPhase, now: datetime) -> ExperimentStatus:
        """A snapshot as it will be after ``set_phase(phase, now)``, changing nothing: what the summary
        stored just before the phase is entered records."""
        ahead = copy.deepcopy(self)
        ahead.set_phase(phase, now)
        return ahead.status

    def set_condition(self, type_: str, status: ConditionStatus, reason: str, message: str, now: datetime) -> None:
        conditions = self.status.conditions if self.status.conditions is not None else []
        self.status.conditions = conditions
        current = self.status.condition(type_)
        if current and (current.status, current.reason, current.message) == (status, reason, message):
            return
        transition = current.last_transition_time if current and current.status == status else now
        new = Condition(
            type=type_,
            status=status,
            observed_generation=self.status.observed_generation,
            last_transition_time=transition,
            reason=reason,
            message=message[:32768],
        )
        if current:
            conditions[conditions.index(current)] = new
        else:
            conditions.append(new)
        self.changed()

    def target(self, name: str) -> TargetStatus:
        return next(t for t in self.status.targets or [] if t.name == name)

    def update_target(self, name: str, **fields: Any) -> None:
        target = self.target(name)
        for key, value in fields.items():
            setattr(target, key, value)
        self.changed()

    def update(self, **fields: Any) -> None:
        for key, value in fields.items():
            setattr(self.status, key, value)
        self.changed()

    def snapshot(self) -> ExperimentStatus:
        return self.status.model_copy(deep=True)
