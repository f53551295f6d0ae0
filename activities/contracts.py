"""The contract between the experiment workflow and its activities: names, queues, models, errors.

The workflow calls activities by name with these models, so an activity implementation (or a test
fake) only has to register ``@activity.defn(name=...)`` with the same types. Inputs carry the
Experiment's identity, names and small facts; large data (metric series, analysis text) lives in S3
and travels as keys. Nothing here may carry a secret: inputs end up in Temporal history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.exceptions import ApplicationError

from api.experiment import (
    AnalyzerSection,
    ClusterSpec,
    DiscoveredService,
    ExperimentSpec,
    ExperimentStatus,
    Target,
    TutorialServiceRef,
)

# ------------------------------------------------------------------------------ task queues

EXPERIMENTS_TASK_QUEUE = "experiments"
"""The worker: the workflow and every cloud-facing activity."""
GATEWAY_TASK_QUEUE = "crd-gateway"
"""The CRD gateway: writes status onto the Experiment and deletes it at its TTL."""

# ----------------------------------------------------------------------------- activity names

VALIDATE_EXPERIMENT = "validate_experiment"
PROVISION_CLUSTER = "provision_cluster"
WAIT_FOR_CLUSTER_READY = "wait_for_cluster_ready"
DEPLOY_APPLICATIONS = "deploy_applications"
SUBMIT_ARGO_WORKFLOW = "submit_argo_workflow"
WAIT_FOR_ARGO_WORKFLOW = "wait_for_argo_workflow"
RESUME_ARGO_WORKFLOW = "resume_argo_workflow"
COLLECT_METRICS = "collect_metrics"
STORE_RESULTS = "store_results"
PUBLISH_RESULTS = "publish_results"
RUN_ANALYSIS = "run_analysis"
MERGE_RESULTS_PR = "merge_results_pr"
CLOSE_RESULTS_PR = "close_results_pr"
DISCOVER_TUTORIAL_SERVICES = "discover_tutorial_services"
CLEANUP_EXPERIMENT = "cleanup_experiment"
REPORT_STATUS = "report_status"
DELETE_EXPERIMENT = "delete_experiment"

GATEWAY_ACTIVITIES = (REPORT_STATUS, DELETE_EXPERIMENT)


class Contract(BaseModel):
    """Activity I/O: snake_case, unknown fields ignored so either side can add fields first."""

    model_config = ConfigDict(extra="ignore", frozen=False)


# ---------------------------------------------------------------------------------- identity


class ExperimentRef(Contract):
    """Which Experiment object this is about; every activity input starts with it."""

    namespace: str
    name: str
    uid: str
    generation: int = 1
    creation_timestamp: datetime


# --------------------------------------------------------------------------- validation


class ValidateInput(Contract):
    experiment: ExperimentRef
    spec: ExperimentSpec


class ValidationProblem(Contract):
    field: str = Field(description="Wire path, e.g. spec.targets[0].components[1].app")
    message: str
    fix: str | None = None


class ValidationResult(Contract):
    problems: list[ValidationProblem] = Field(default_factory=list)


# ------------------------------------------------------------------------------- clusters


class ProvisionClusterInput(Contract):
    experiment: ExperimentRef
    target: str
    cluster: ClusterSpec


class ProvisionedCluster(Contract):
    """The claim exists (hub: nothing to create). Effective values after defaults."""

    target: str
    cluster_name: str
    machine_type: str | None = None
    node_count: int | None = None


class WaitForClusterInput(Contract):
    experiment: ExperimentRef
    target: str
    cluster_type: str
    cluster_name: str


class ReadyCluster(Contract):
    target: str
    endpoint: str | None = Field(None, description="API server host without scheme; None for the hub.")
    kubeconfig_secret: str | None = None


# ---------------------------------------------------------------------------------- ArgoCD

Layer = Literal["infra", "obs", "workload"]


class DeployApplicationsInput(Contract):
    """Create (or update) one layer's Applications for a target and wait until they are healthy."""

    experiment: ExperimentRef
    target: Target
    cluster_name: str
    endpoint: str | None = None
    layer: Layer
    layered: bool = Field(description="True when the target deploys infra/obs layers before its workload.")


class DeployedApplications(Contract):
    target: str
    layer: Layer
    applications: list[str]
    components: list[str] = Field(default_factory=list, description="'Kind/name' of synced resources.")


# ------------------------------------------------------------------------------ Argo Workflows


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


# ---------------------------------------------------------------------------------- tutorials


class TutorialTarget(Contract):
    name: str
    cluster_type: str
    cluster_name: str


class DiscoverTutorialServicesInput(Contract):
    """Resolve each tutorial service to an endpoint on its target, hub or remote."""

    experiment: ExperimentRef
    services: list[TutorialServiceRef]
    targets: list[TutorialTarget]


class DiscoveredTutorialServices(Contract):
    services: list[DiscoveredService]


# ------------------------------------------------------------------------------------ results


class CollectMetricsInput(Contract):
    experiment: ExperimentRef
    spec: ExperimentSpec
    cluster_names: dict[str, str] = Field(description="target → cluster name")
    iteration: int = Field(0, description="Quality-gate iteration; selects the $DURATION window.")


class MetricsCollection(Contract):
    """What the workflow needs to decide; the series themselves are in S3 under ``snapshot_key``."""

    snapshot_key: str | None = None
    source: str | None = None
    total_metrics: int = 0
    metrics_with_data: int = 0
    missing_metrics: list[str] = Field(default_factory=list)
    values: dict[str, float] = Field(
        default_factory=dict, description="One representative value per query with data (seed §3.12)."
    )


class CriterionResult(Contract):
    metric: str
    operator: str
    threshold: str
    actual: float | None = None
    passed: bool | None = None


class StoreResultsInput(Contract):
    experiment: ExperimentRef
    spec: ExperimentSpec
    status: ExperimentStatus
    snapshot_key: str | None = None
    criteria: list[CriterionResult] = Field(default_factory=list)


class StoredResults(Contract):
    results_url: str
    summary_key: str


class PublishResultsInput(Contract):
    experiment: ExperimentRef
    summary_key: str
    title: str | None = None


class PublishedResults(Contract):
    branch: str
    pr_number: int
    pr_url: str


class RunAnalysisInput(Contract):
    experiment: ExperimentRef
    summary_key: str
    sections: list[AnalyzerSection]


class AnalysisOutcome(Contract):
    job_name: str
    succeeded: bool
    message: str | None = None
    analysis_key: str | None = Field(None, description="S3 key of analysis_final.json; the text stays in S3.")


class ResultsPullRequest(Contract):
    experiment: ExperimentRef
    pr_number: int
    branch: str


# ------------------------------------------------------------------------------------ cleanup


class CleanupTarget(Contract):
    name: str
    cluster_type: str
    cluster_name: str


class CleanupInput(Contract):
    """Everything carries the Experiment's uid label, so cleanup needs no record of what exists.

    ``targets`` says which claim kinds to look for. (Histories may still carry ``argo_workflow`` and
    ``kubeconfig_secrets``: ignored, the labels find those objects.)
    """

    experiment: ExperimentRef
    targets: list[CleanupTarget]


class CleanupReport(Contract):
    deleted: list[str] = Field(default_factory=list)
    not_deleted: list[str] = Field(default_factory=list, description="'Kind/name: why' for each leftover.")


# ------------------------------------------------------------------------------------ gateway


class ReportStatusInput(Contract):
    """The full status; ``sequence`` rises with every change so the gateway can drop a stale retry."""

    experiment: ExperimentRef
    sequence: int
    status: ExperimentStatus


class DeleteExperimentInput(Contract):
    experiment: ExperimentRef
    reason: str


# ----------------------------------------------------------------------------- permanent errors


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
