"""How far one run got: the one piece of state that decides what the TTL, a deletion and cleanup still owe.

Pure data, changed only by the stages (workflows/stages/); the status the user sees is the
StatusBook's (workflows/status.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.publish.contracts import PublishedResults


class Stage(IntEnum):
    """The active stage reached, in lifecycle order; it only moves forward."""

    VALIDATING = 1
    PROVISIONING = 2
    """Claims may exist from here on: cleanup is owed."""
    DEPLOYING = 3
    RUNNING = 4
    """The Argo workflow was submitted: results (metrics, summary.json) are owed, even on failure."""
    AWAITING_COMPLETION = 5
    """Manual mode waits for a complete request: the TTL now completes the experiment instead of failing it."""
    RUN_SUCCEEDED = 6
    """The Argo workflow succeeded, or a complete request ended the run: the TTL completes it too."""


class Cleanup(Enum):
    PENDING = "pending"
    RETAINED = "retained"
    """cleanupPolicy OnSuccess after a failure: kept for debugging until the TTL or the deletion."""
    DONE = "done"


@dataclass
class LifecycleProgress:
    stage: Stage = Stage.VALIDATING
    summary_key: str | None = None
    """Where summary.json was stored; None until it is."""
    cleanup: Cleanup = Cleanup.PENDING
    not_deleted: list[str] = field(default_factory=list)
    """What cleanup could not delete (the workflow's outcome lists it)."""
    open_review: PublishedResults | None = None
    """The pull request whose review gate is open, until its approval or rejection has been applied."""

    def reach(self, stage: Stage) -> None:
        self.stage = max(self.stage, stage)

    def reached(self, stage: Stage) -> bool:
        return self.stage >= stage

    @property
    def results_owed(self) -> bool:
        return self.reached(Stage.RUNNING) and self.summary_key is None

    @property
    def cleanup_owed(self) -> bool:
        return self.reached(Stage.PROVISIONING) and self.cleanup != Cleanup.DONE
