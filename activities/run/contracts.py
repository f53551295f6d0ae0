"""Contracts of the Argo Workflows activities: submit, wait for the end, resume."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from activities.contracts import Contract, ExperimentRef

SUBMIT_ARGO_WORKFLOW = "submit_argo_workflow"
WAIT_FOR_ARGO_WORKFLOW = "wait_for_argo_workflow"
RESUME_ARGO_WORKFLOW = "resume_argo_workflow"


class SubmitArgoWorkflowInput(Contract):
    experiment: ExperimentRef
    template: str
    mode: str
    parameters: dict[str, str]


class SubmittedArgoWorkflow(Contract):
    name: str
    inline: bool = Field(False, description="The template was missing; the inline fallback was submitted.")


class WaitForArgoWorkflowInput(Contract):
    experiment: ExperimentRef
    name: str


class ResumeArgoWorkflowInput(Contract):
    experiment: ExperimentRef
    name: str


class ResumedArgoWorkflow(Contract):
    name: str
    resumed_nodes: list[str] = Field(default_factory=list, description="Display names of the suspend nodes resumed.")


class ArgoWorkflowPhase(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"


class FinishedArgoWorkflow(Contract):
    name: str
    phase: ArgoWorkflowPhase
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
