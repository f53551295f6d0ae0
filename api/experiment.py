"""The ``Experiment`` kind (namespaced): what a user asks for and what the platform reports back.

Field names, enums, patterns, defaults and limits follow the original operator exactly, so its
Experiment YAMLs apply unchanged; our additions (EKS/AKS targets, per-phase deadlines, cleanup
policy, conditions, the Temporal workflow reference) are optional and default to the old behaviour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field

from api.base import GROUP_VERSION, ApiModel, Duration, ObjectMeta, StatusModel, parse_duration

METRIC_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# The workflow the platform builds itself when this name is given and no such WorkflowTemplate exists.
INLINE_WORKFLOW_TEMPLATE = "experiment-lifecycle"


class ClusterType(StrEnum):
    GKE = "gke"
    EKS = "eks"
    AKS = "aks"
    HUB = "hub"


class Transport(StrEnum):
    DIRECT = "direct"
    TAILSCALE = "tailscale"


class CompletionMode(StrEnum):
    WORKFLOW = "workflow"
    MANUAL = "manual"


class MetricType(StrEnum):
    INSTANT = "instant"
    RANGE = "range"


class Operator(StrEnum):
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"


class AnalyzerSection(StrEnum):
    ABSTRACT = "abstract"
    TARGET_ANALYSIS = "targetAnalysis"
    PERFORMANCE_ANALYSIS = "performanceAnalysis"
    METRIC_INSIGHTS = "metricInsights"
    FINOPS_ANALYSIS = "finopsAnalysis"
    SECOPS_ANALYSIS = "secopsAnalysis"
    BODY = "body"
    CAPABILITIES_MATRIX = "capabilitiesMatrix"
    FEEDBACK = "feedback"
    ARCHITECTURE_DIAGRAM = "architectureDiagram"
    GLOSSARY = "glossary"


class CleanupPolicy(StrEnum):
    ALWAYS = "Always"
    ON_SUCCESS = "OnSuccess"


# ----------------------------------------------------------------------------------------- spec


class ClusterSpec(ApiModel):
    """Where a target runs. GKE fields are the original's; EKS/AKS fields are ours."""

    type: ClusterType = Field(description="gke | eks | aks | hub (the hub itself; nothing is provisioned).")
    zone: str | None = Field(None, description="GKE zone. Default us-central1-a.")
    machine_type: str | None = Field(None, description="GKE machine type. Default e2-medium.")
    node_count: int | None = Field(None, ge=1, le=100, description="Nodes in the pool. Default 1.")
    disk_size_gb: int | None = Field(None, ge=10, le=65536, description="Node disk in GB. Default 50.")
    preemptible: bool | None = Field(None, description="GKE preemptible nodes. Default false.")
    region: str | None = Field(None, description="EKS/AKS region. Default us-east-1 (EKS) / eastus (AKS).")
    instance_type: str | None = Field(None, description="EKS instance type. Default t3.medium.")
    vm_size: str | None = Field(None, description="AKS VM size. Default Standard_B2s.")
    spot: bool | None = Field(None, description="EKS/AKS spot nodes. Default false.")


class ComponentRef(ApiModel):
    """One component to deploy: exactly one of app / workflow / config names a Component."""

    app: str | None = None
    workflow: str | None = None
    config: str | None = None
    params: dict[str, str] | None = Field(None, description="Helm parameter overrides (strings).")

    @property
    def component_name(self) -> str | None:
        return self.app or self.workflow or self.config


class ObservabilitySpec(ApiModel):
    enabled: bool
    transport: Transport
    tenant: str | None = None


class Target(ApiModel):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    cluster: ClusterSpec
    components: list[ComponentRef] | None = None
    observability: ObservabilitySpec | None = None
    depends: list[str] | None = Field(None, description="Targets whose apps must be healthy first.")


class CompletionSpec(ApiModel):
    mode: CompletionMode


class WorkflowSpec(ApiModel):
    template: str = Field(description="Argo WorkflowTemplate name (namespace argo-workflows).")
    completion: CompletionSpec
    params: dict[str, str] | None = None


class TutorialServiceRef(ApiModel):
    name: str
    target: str
    service: str
    namespace: str = Field(description="Namespace of the Service; $EXPERIMENT stands for the experiment's name.")
    port: int | None = Field(None, ge=1, le=65535)


class TutorialSpec(ApiModel):
    path: str | None = Field(None, description="Tutorial pages file. Default tutorial.yaml.")
    expose_kubeconfig: bool | None = None
    services: list[TutorialServiceRef] | None = None


class MetricsQuery(ApiModel):
    name: str = Field(pattern=METRIC_NAME_PATTERN)
    query: str = Field(description="PromQL; $EXPERIMENT, $NAMESPACE, $DURATION (or ${…}) are substituted.")
    type: MetricType = MetricType.INSTANT
    unit: str | None = None
    description: str | None = None
    group: str | None = None


class SuccessCriterion(ApiModel):
    metric: str = Field(pattern=METRIC_NAME_PATTERN)
    operator: Operator
    value: str = Field(description="Threshold, a number written as a string.")
    description: str | None = None


class HypothesisSpec(ApiModel):
    claim: str
    questions: list[str] | None = None
    focus: list[str] | None = None
    success_criteria: list[SuccessCriterion] | None = None


class QualityGateSpec(ApiModel):
    enabled: bool = True
    max_iterations: int = Field(3, ge=1, le=5)
    min_data_coverage: float | None = Field(None, ge=0, le=1, description="Default 0.5.")
    recollect_delay_seconds: int = Field(120, ge=0, le=86400)


class CodeSnippet(ApiModel):
    name: str
    description: str | None = None
    language: str
    repo: str | None = Field(None, pattern=r"^[^/\s]+/[^/\s]+$", description="owner/repo")
    path: str
    start_line: int | None = Field(None, ge=1)
    end_line: int | None = Field(None, ge=1)
    ref: str | None = None
    used_by: list[str] | None = None


class AnalyzerConfig(ApiModel):
    sections: list[AnalyzerSection] = Field(min_length=1)


class PhaseDeadlines(ApiModel):
    """How long each phase may take before the experiment fails naming what it waited for."""

    provisioning: Duration | None = Field(None, description="Clusters ready. Default 60m.")
    deploying: Duration | None = Field(None, description="Applications healthy. Default 30m.")
    running: Duration | None = Field(None, description="Argo workflow finished (workflow mode). Default 4h.")
    results: Duration | None = Field(None, description="Metrics, storage, publishing. Default 30m.")
    review: Duration | None = Field(None, description="Human review of the results PR. Default 12h.")
    cleanup: Duration | None = Field(None, description="Everything deleted. Default 30m.")


DEFAULT_DEADLINES: dict[str, timedelta] = {
    "provisioning": timedelta(minutes=60),
    "deploying": timedelta(minutes=30),
    "running": timedelta(hours=4),
    "results": timedelta(minutes=30),
    "review": timedelta(hours=12),
    "cleanup": timedelta(minutes=30),
}
"""The review default is 12 h so that, with every other phase at its default (6 h 30 m in all), the
review gate ends by its own deadline (PR closed, condition ``ReviewGate`` DeadlineExceeded) before the
default ``ttlDays`` 1 deletes the Experiment, and the finished object stays visible for the rest of that
day. A longer review needs a longer TTL; whichever comes first closes the PR, and neither changes a
finished phase."""


class ExperimentSpec(ApiModel):
    title: str | None = None
    description: str | None = None
    targets: list[Target] = Field(min_length=1)
    workflow: WorkflowSpec
    tutorial: TutorialSpec | None = None
    metrics: list[MetricsQuery] | None = None
    tags: list[str] | None = None
    publish: bool = False
    hypothesis: HypothesisSpec | None = None
    quality_gate: QualityGateSpec | None = None
    code_snippets: dict[str, CodeSnippet] | None = None
    analyzer_config: AnalyzerConfig | None = None
    series: str | None = Field(None, description="Research-track id used by the results site.")
    ttl_days: int = Field(
        1, ge=0, le=365, description="Days from creation until the experiment is ended and deleted; 0 = never."
    )
    cleanup_policy: CleanupPolicy = Field(
        CleanupPolicy.ALWAYS,
        description="Always: delete everything at the end. "
        "OnSuccess: a failed experiment keeps its resources until its TTL.",
    )
    deadlines: PhaseDeadlines | None = None

    def deadline(self, phase: str) -> timedelta:
        """The effective deadline of a phase: the spec's value, else the default."""
        value = getattr(self.deadlines, phase, None) if self.deadlines else None
        return parse_duration(value) if value else DEFAULT_DEADLINES[phase]

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)


# --------------------------------------------------------------------------------------- status


class ExperimentPhase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    RUNNING = "Running"
    COMPLETE = "Complete"
    FAILED = "Failed"


class AnalysisPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class ReviewPhase(StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    SKIPPED = "Skipped"


class HypothesisVerdict(StrEnum):
    VALIDATED = "validated"
    INVALIDATED = "invalidated"
    INSUFFICIENT = "insufficient"


class IterationPhase(StrEnum):
    EVALUATING = "Evaluating"
    RECOLLECTING = "Recollecting"
    PASSED = "Passed"
    EXHAUSTED = "Exhausted"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StatusModel):
    """A ``metav1.Condition``."""

    type: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        max_length=316,
    )
    status: ConditionStatus
    observed_generation: int | None = Field(None, ge=0)
    last_transition_time: datetime
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    message: str = Field(max_length=32768)


class TargetStatus(StatusModel):
    name: str
    phase: str | None = Field(None, description="Pending, Provisioning, Ready or Failed.")
    cluster_name: str | None = None
    endpoint: str | None = None
    machine_type: str | None = None
    node_count: int | None = None
    components: list[str] | None = None
    kubeconfig_secret: str | None = None
    deployed_layers: list[str] | None = None
    apps_created: bool | None = None


class WorkflowStatus(StatusModel):
    name: str
    phase: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str | None = None


class DiscoveredService(StatusModel):
    name: str
    endpoint: str | None = None
    ready: bool = False


class TutorialStatus(StatusModel):
    services: list[DiscoveredService] | None = None
    kubeconfig_secrets: dict[str, str] | None = None


class QualityResult(StatusModel):
    iteration: int
    total_metrics: int
    metrics_with_data: int
    coverage: float
    missing_metrics: list[str] | None = None
    passed: bool
    remedy: str | None = None


class IterationStatus(StatusModel):
    current_iteration: int = 0
    max_iterations: int = 0
    phase: IterationPhase | None = None
    quality_results: list[QualityResult] | None = None


class TemporalRef(StatusModel):
    """Where the experiment's durable workflow lives, for the Temporal UI and ``labctl``."""

    workflow_id: str
    run_id: str | None = None
    ui_url: str | None = Field(None, alias="uiURL")


class PhaseTransition(StatusModel):
    phase: ExperimentPhase
    time: datetime


class ExperimentStatus(StatusModel):
    phase: ExperimentPhase | None = None
    observed_generation: int | None = None
    targets: list[TargetStatus] | None = None
    workflow_status: WorkflowStatus | None = None
    tutorial_status: TutorialStatus | None = None
    completed_at: datetime | None = None
    resources_cleaned: bool | None = None
    results_url: str | None = Field(None, alias="resultsURL")
    published: bool | None = None
    publish_branch: str | None = None
    publish_pr_number: int | None = Field(None, alias="publishPRNumber")
    publish_pr_url: str | None = Field(None, alias="publishPRURL")
    analysis_job_name: str | None = None
    analysis_phase: AnalysisPhase | None = None
    hypothesis_result: HypothesisVerdict | None = None
    review_phase: ReviewPhase | None = None
    iteration_status: IterationStatus | None = None
    temporal: TemporalRef | None = None
    report_sequence: int | None = Field(
        None,
        description="Sequence number of the workflow's status report this status was written from. "
        "Written in the same update as that status, so every gateway replica drops an older report.",
    )
    timeline: list[PhaseTransition] | None = None
    conditions: list[Condition] | None = Field(
        None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions or [] if c.type == type_), None)


# ------------------------------------------------------------------------------------- objects


class Experiment(ApiModel):
    api_version: Literal["experiments.illm.io/v1alpha1"] = GROUP_VERSION  # type: ignore[assignment]
    kind: Literal["Experiment"] = "Experiment"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ExperimentSpec
    status: ExperimentStatus | None = None


EXPERIMENT_FINALIZER = "experiments.illm.io/finalizer"
REVIEW_ANNOTATION = "experiments.illm.io/review"
COMPLETE_ANNOTATION = "experiments.illm.io/complete"
