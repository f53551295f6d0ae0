"""In-memory fakes of every activity the workflow calls (activities/*/contracts.py), registered by the tests.

They keep what a real lab would keep (claims, apps, workflows, PRs) so tests can assert order,
idempotent cleanup and what was left behind. Knobs on FakeLab make a step fail or hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.clusters.contracts import (
    DISCOVER_TUTORIAL_SERVICES,
    PROVISION_CLUSTER,
    WAIT_FOR_CLUSTER_READY,
    DiscoveredTutorialServices,
    DiscoverTutorialServicesInput,
    ProvisionClusterInput,
    ProvisionedCluster,
    ReadyCluster,
    WaitForClusterInput,
)
from activities.contracts import (
    CLEANUP_EXPERIMENT,
    DELETE_EXPERIMENT,
    REPORT_STATUS,
    VALIDATE_EXPERIMENT,
    CleanupInput,
    CleanupReport,
    DeleteExperimentInput,
    ReportStatusInput,
    ValidateInput,
    ValidationProblem,
    ValidationResult,
)
from activities.deploy.contracts import DEPLOY_APPLICATIONS, DeployApplicationsInput, DeployedApplications
from activities.errors import ClusterRequestRejected
from activities.publish.contracts import (
    CLOSE_RESULTS_PR,
    MERGE_RESULTS_PR,
    PUBLISH_RESULTS,
    RUN_ANALYSIS,
    AnalysisOutcome,
    PublishedResults,
    PublishResultsInput,
    ResultsPullRequest,
    RunAnalysisInput,
)
from activities.results.contracts import (
    COLLECT_METRICS,
    STORE_RESULTS,
    CollectMetricsInput,
    MetricsCollection,
    StoredResults,
    StoreResultsInput,
)
from activities.run.contracts import (
    RESUME_ARGO_WORKFLOW,
    SUBMIT_ARGO_WORKFLOW,
    WAIT_FOR_ARGO_WORKFLOW,
    ArgoWorkflowPhase,
    FinishedArgoWorkflow,
    ResumeArgoWorkflowInput,
    ResumedArgoWorkflow,
    SubmitArgoWorkflowInput,
    SubmittedArgoWorkflow,
    WaitForArgoWorkflowInput,
)
from api import names
from api.experiment import DiscoveredService


@dataclass
class FakeLab:
    problems: list[ValidationProblem] = field(default_factory=list)
    reject_clusters: set[str] = field(default_factory=set)
    hang_clusters: set[str] = field(default_factory=set)
    argo_phase: ArgoWorkflowPhase = ArgoWorkflowPhase.SUCCEEDED
    argo_suspends: bool = False
    """The Argo workflow waits at a suspend step (the inline manual lifecycle) until it is resumed."""
    resumed: set[str] = field(default_factory=set)
    coverage: list[tuple[int, int]] = field(default_factory=lambda: [(4, 4)])
    values: dict[str, float] = field(default_factory=dict)
    analysis_succeeds: bool = True
    calls: list[tuple[str, str]] = field(default_factory=list)
    claims: set[str] = field(default_factory=set)
    apps: set[str] = field(default_factory=set)
    argo_workflows: set[str] = field(default_factory=set)
    prs: dict[int, str] = field(default_factory=dict)
    statuses: list[ReportStatusInput] = field(default_factory=list)
    deleted_experiments: list[DeleteExperimentInput] = field(default_factory=list)
    collections: int = 0
    provision_started: asyncio.Event = field(default_factory=asyncio.Event)

    def called(self, name: str) -> list[str]:
        return [key for n, key in self.calls if n == name]

    def record(self, name: str, key: str) -> None:
        self.calls.append((name, key))

    # --------------------------------------------------------------- experiments queue

    def activities(self) -> list[Callable[..., Any]]:
        lab = self

        @activity.defn(name=VALIDATE_EXPERIMENT)
        async def validate(inp: ValidateInput) -> ValidationResult:
            lab.record(VALIDATE_EXPERIMENT, inp.experiment.name)
            return ValidationResult(problems=lab.problems)

        @activity.defn(name=PROVISION_CLUSTER)
        async def provision(inp: ProvisionClusterInput) -> ProvisionedCluster:
            lab.record(PROVISION_CLUSTER, inp.target)
            lab.provision_started.set()
            if inp.target in lab.reject_clusters:
                raise ClusterRequestRejected(f"cluster for {inp.target} rejected: quota exceeded")
            name = names.cluster_name(inp.experiment, inp.target, inp.cluster.type)
            if inp.cluster.type != "hub":
                lab.claims.add(name)
            return ProvisionedCluster(target=inp.target, cluster_name=name, machine_type="e2-medium", node_count=1)

        @activity.defn(name=WAIT_FOR_CLUSTER_READY)
        async def wait_ready(inp: WaitForClusterInput) -> ReadyCluster:
            lab.record(WAIT_FOR_CLUSTER_READY, inp.target)
            if inp.target in lab.hang_clusters:  # never Ready: poll by retry, as a real slow cluster would
                raise ApplicationError(f"cluster {inp.cluster_name} not Ready yet", type="NotReady")
            endpoint = None if inp.cluster_type == "hub" else f"10.0.0.{len(lab.claims)}"
            return ReadyCluster(target=inp.target, endpoint=endpoint)

        @activity.defn(name=DEPLOY_APPLICATIONS)
        async def deploy(inp: DeployApplicationsInput) -> DeployedApplications:
            lab.record(DEPLOY_APPLICATIONS, f"{inp.target.name}/{inp.layer}")
            app = names.app_name(inp.experiment, inp.target.name, inp.layer if inp.layered else "workload")
            lab.apps.add(app)
            return DeployedApplications(
                target=inp.target.name, layer=inp.layer, applications=[app], components=[f"Deployment/{app}"]
            )

        @activity.defn(name=SUBMIT_ARGO_WORKFLOW)
        async def submit(inp: SubmitArgoWorkflowInput) -> SubmittedArgoWorkflow:
            lab.record(SUBMIT_ARGO_WORKFLOW, ",".join(f"{k}={v}" for k, v in sorted(inp.parameters.items())))
            name = names.argo_workflow_name(inp.experiment)
            lab.argo_workflows.add(name)
            return SubmittedArgoWorkflow(name=name)

        @activity.defn(name=DISCOVER_TUTORIAL_SERVICES)
        async def discover(inp: DiscoverTutorialServicesInput) -> DiscoveredTutorialServices:
            lab.record(DISCOVER_TUTORIAL_SERVICES, ",".join(s.name for s in inp.services))
            found = [DiscoveredService(name=s.name, endpoint=f"http://{s.service}.{s.namespace}", ready=True)
                     for s in inp.services]  # fmt: skip
            return DiscoveredTutorialServices(services=found)

        @activity.defn(name=WAIT_FOR_ARGO_WORKFLOW)
        async def wait_argo(inp: WaitForArgoWorkflowInput) -> FinishedArgoWorkflow:
            lab.record(WAIT_FOR_ARGO_WORKFLOW, inp.name)
            if lab.argo_suspends and inp.name not in lab.resumed:  # poll by retry, as hang_clusters does
                raise ApplicationError(f"Workflow {inp.name}: Running (suspended)", type="NotFinished")
            return FinishedArgoWorkflow(name=inp.name, phase=lab.argo_phase, message="step load failed")

        @activity.defn(name=RESUME_ARGO_WORKFLOW)
        async def resume_argo(inp: ResumeArgoWorkflowInput) -> ResumedArgoWorkflow:
            lab.record(RESUME_ARGO_WORKFLOW, inp.name)
            suspended = lab.argo_suspends and inp.name not in lab.resumed
            lab.resumed.add(inp.name)
            return ResumedArgoWorkflow(name=inp.name, resumed_nodes=["wait-for-complete"] if suspended else [])

        @activity.defn(name=COLLECT_METRICS)
        async def collect(inp: CollectMetricsInput) -> MetricsCollection:
            lab.record(COLLECT_METRICS, str(inp.iteration))
            total, with_data = lab.coverage[min(lab.collections, len(lab.coverage) - 1)]
            lab.collections += 1
            return MetricsCollection(
                snapshot_key=names.metrics_snapshot_key(inp.experiment),
                total_metrics=total,
                metrics_with_data=with_data,
                missing_metrics=[f"m{i}" for i in range(total - with_data)],
                values=lab.values,
            )

        @activity.defn(name=STORE_RESULTS)
        async def store(inp: StoreResultsInput) -> StoredResults:
            lab.record(STORE_RESULTS, str(inp.status.phase))
            return StoredResults(
                results_url=names.results_url(inp.experiment), summary_key=names.summary_key(inp.experiment)
            )

        @activity.defn(name=PUBLISH_RESULTS)
        async def publish(inp: PublishResultsInput) -> PublishedResults:
            lab.record(PUBLISH_RESULTS, inp.summary_key)
            number = len(lab.prs) + 1
            lab.prs[number] = "open"
            return PublishedResults(
                branch=names.publish_branch(inp.experiment.name), pr_number=number, pr_url=f"https://gh/pr/{number}"
            )

        @activity.defn(name=RUN_ANALYSIS)
        async def analyse(inp: RunAnalysisInput) -> AnalysisOutcome:
            lab.record(RUN_ANALYSIS, ",".join(inp.sections))
            return AnalysisOutcome(
                job_name=names.analysis_job_name(inp.experiment),
                succeeded=lab.analysis_succeeds,
                analysis_key=f"{inp.experiment.name}/analysis/analysis_final.json",
            )

        @activity.defn(name=MERGE_RESULTS_PR)
        async def merge(inp: ResultsPullRequest) -> None:
            lab.record(MERGE_RESULTS_PR, str(inp.pr_number))
            lab.prs[inp.pr_number] = "merged"

        @activity.defn(name=CLOSE_RESULTS_PR)
        async def close(inp: ResultsPullRequest) -> None:
            lab.record(CLOSE_RESULTS_PR, str(inp.pr_number))
            lab.prs[inp.pr_number] = "closed"

        @activity.defn(name=CLEANUP_EXPERIMENT)
        async def cleanup(inp: CleanupInput) -> CleanupReport:
            lab.record(CLEANUP_EXPERIMENT, ",".join(t.name for t in inp.targets))
            deleted = [x for x in lab.apps if x.startswith(f"{inp.experiment.name}-")]
            deleted += [t.cluster_name for t in inp.targets if t.cluster_name in lab.claims]
            lab.apps -= set(deleted)
            lab.claims -= {t.cluster_name for t in inp.targets}
            lab.argo_workflows.discard(names.argo_workflow_name(inp.experiment))
            return CleanupReport(deleted=deleted)

        return [
            validate, provision, wait_ready, deploy, discover, submit, wait_argo, resume_argo, collect,
            store, publish, analyse, merge, close, cleanup,
        ]  # fmt: skip

    # ------------------------------------------------------------------- gateway queue

    def gateway_activities(self) -> list[Callable[..., Any]]:
        lab = self

        @activity.defn(name=REPORT_STATUS)
        async def report_status(inp: ReportStatusInput) -> None:
            lab.statuses.append(inp)

        @activity.defn(name=DELETE_EXPERIMENT)
        async def delete_experiment(inp: DeleteExperimentInput) -> None:
            lab.record(DELETE_EXPERIMENT, inp.reason)
            lab.deleted_experiments.append(inp)

        return [report_status, delete_experiment]
