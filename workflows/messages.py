"""What the CRD gateway, labctl and the Temporal UI exchange with an ExperimentWorkflow."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from activities.contracts import ExperimentRef
from api.experiment import ExperimentPhase, ExperimentSpec

STATUS_QUERY = "status"
COMPLETE_UPDATE = "complete"
COMPLETE_SIGNAL = "request_complete"
"""Signal twin of the update, so the Temporal UI (which can only send signals) can end a manual run."""
REVIEW_UPDATE = "review"
REVIEW_SIGNAL = "submit_review"


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ExperimentInput(Message):
    """The workflow input: the Experiment's identity and its validated spec. Never a secret."""

    experiment: ExperimentRef
    spec: ExperimentSpec


class CompleteRequest(Message):
    requested_by: str = "unknown"
    reason: str | None = None


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewRequest(Message):
    decision: ReviewDecision
    reviewer: str = "unknown"
    comment: str | None = None


class ExperimentOutcome(Message):
    phase: ExperimentPhase
    reason: str
    message: str
    results_url: str | None = None
    not_deleted: list[str] = Field(default_factory=list)
