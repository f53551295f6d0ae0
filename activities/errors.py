"""Permanent and transient errors the activities raise, and the condition reason each becomes.

A permanent error is non-retryable and reaches the workflow with its ``type`` intact; the workflow's
retry policies list ``PERMANENT_ERROR_TYPES`` as non-retryable, and ``reason_for`` names the Ready
condition's reason. Adding an error here is enough for both.
"""

from __future__ import annotations

from typing import ClassVar

from temporalio.exceptions import ApplicationError


class PermanentError(ApplicationError):
    """A failure retrying cannot fix. Raised by activities; reaches the workflow with ``type`` intact."""

    error_type: ClassVar[str] = "PermanentError"
    reason: ClassVar[str] = "ActivityFailed"
    """The Ready-condition reason the workflow reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type=self.error_type, non_retryable=True)


class InvalidExperiment(PermanentError):
    error_type = "InvalidExperiment"
    reason = "InvalidSpec"


class ClusterRequestRejected(PermanentError):
    """The cloud/Crossplane refused the cluster (name too long, quota, bad zone...)."""

    error_type = "ClusterRequestRejected"
    reason = "ProvisioningFailed"


class ClusterFailed(PermanentError):
    """The claim reports a terminal failure; waiting longer will not make it Ready."""

    error_type = "ClusterFailed"
    reason = "ProvisioningFailed"


class ApplicationFailed(PermanentError):
    """An Application cannot be built (no sources) or reports a permanent ComparisonError."""

    error_type = "ApplicationFailed"
    reason = "DeploymentFailed"


class ArgoWorkflowRejected(PermanentError):
    error_type = "ArgoWorkflowRejected"
    reason = "ArgoWorkflowFailed"


class ResultsStorageFailed(PermanentError):
    error_type = "ResultsStorageFailed"
    reason = "ResultsFailed"


class PublishFailed(PermanentError):
    error_type = "PublishFailed"
    reason = "PublishFailed"


class ReviewActionFailed(PermanentError):
    """Merging or closing the results PR failed for good (e.g. merge conflict)."""

    error_type = "ReviewActionFailed"
    reason = "ReviewActionFailed"


PERMANENT_ERRORS: tuple[type[PermanentError], ...] = (
    InvalidExperiment,
    ClusterRequestRejected,
    ClusterFailed,
    ApplicationFailed,
    ArgoWorkflowRejected,
    ResultsStorageFailed,
    PublishFailed,
    ReviewActionFailed,
)
PERMANENT_ERROR_TYPES: tuple[str, ...] = tuple(e.error_type for e in PERMANENT_ERRORS)


class ResultsStoreUnavailable(ApplicationError):
    """The results store did not answer: retried by Temporal until the results deadline, then Failed."""

    error_type: ClassVar[str] = "ResultsStoreUnavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, type=self.error_type, non_retryable=False)


TRANSIENT_ERROR_REASONS: dict[str, str] = {ResultsStoreUnavailable.error_type: ResultsStorageFailed.reason}
"""Retryable errors that, when they outlast a deadline, name the failure better than DeadlineExceeded."""


def reason_for(error_type: str | None) -> str:
    """The condition reason for an error type an activity raised; unknown types are generic."""
    return next((e.reason for e in PERMANENT_ERRORS if e.error_type == error_type), "ActivityFailed")
