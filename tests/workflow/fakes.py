"""In-memory fakes of every activity in activities/contracts.py, registered by the tests.

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

from activities import contracts as c
from api import names
from api.experiment import DiscoveredService


@dataclass
class FakeLab:
    problems: list[c.ValidationProblem] = field(default_factory=list)
    reject_clusters: set[str] = field(default_factory=set)
    hang_clusters: set[str] = field(default_factory=set)
    argo_phase: c.ArgoWorkflowPhase = c.ArgoWorkflowPhase.SUCCEEDED
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
    statuses: list[c.ReportStatusInput] = field(default_factory=list)
    deleted_experiments: list[c.DeleteExperimentInput] = field(default_factory=list)
    collections: int = 0
    provision_started: asyncio.Event = field(default_factory=asyncio.Event)

    def called(self, name: str) -> list[str]:
        return [key for n, key in self.calls if n == name]

    def record(self, name: str, key: str) -> None:
        self.calls.append((name, key))

    # --------------------------------------------------------------- experiments queue

    def activities(self) -> list[Callable[..., Any]]:
        lab = self

        @activity.defn(name=c.VALIDATE_EXPERIMENT)
        async def validate(inp: c.ValidateInput) -> c.ValidationResult:
            lab.record(c.VALIDATE_EXPERIMENT, inp.experiment.name)
            return c.ValidationResult(problems=lab.problems)

        @activity.defn(name=c.PROVISION_CLUSTER)
        async def provision(inp: c.ProvisionClusterInput) -> c.ProvisionedCluster:
            lab.record(c.PROVISION_CLUSTER, inp.target)
            lab.provision_started.set()
            if inp.target in lab.reject_clusters:
                raise c.ClusterRequestRejected(f"cluster for {inp.target} rejected: quota exceeded")
            name = names.cluster_name(inp.experiment, inp.target, inp.cluster.type)
            if inp.cluster.type != "hub":
                lab.claims.add(name)
            return c.ProvisionedCluster(target=inp.target, cluster_name=name, machine_type="e2-medium", node_count=1)

        @activity.defn(name=c.WAIT_FOR_CLUSTER_READY)
        async def wait_ready(inp: c.WaitForClusterInput) -> c.ReadyCluster:
            lab.record(c.WAIT_FOR_CLUSTER_READY, inp.target)
            if inp.target in lab.hang_clusters:  # never Ready: poll by retry, as a real slow cluster would
                raise ApplicationError(f"cluster {inp.cluster_name} not Ready yet", type="NotReady")
            endpoint = None if inp.cluster_type == "hub" else f"10.0.0.{len(lab.claims)}"
            return c.ReadyCluster(target=inp.target, endpoint=endpoint)

        @activity.defn(name=c.DEPLOY_APPLICATIONS)
        async def deploy(inp: c.DeployApplicationsInput) -> c.DeployedApplications:
            lab.record(c.DEPLOY_APPLICATIONS, f"{inp.target.name}/{inp.layer}")
            app = names.app_name(inp.experiment, inp.target.name, inp.layer if inp.layered else "workload")
            lab.apps.add(app)
            return c.DeployedApplications(
                target=inp.target.name, layer=inp.layer, applications=[app], components=[f"Deployment/{app}"]
            )

        @activity.defn(name=c.SUBMIT_ARGO_WORKFLOW)
        async def submit(inp: c.SubmitArgoWorkflowInput) -> c.SubmittedArgoWorkflow:
            lab.record(c.SUBMIT_ARGO_WORKFLOW, ",".join(f"{k}={v}" for k, v in sorted(inp.parameters.items())))
            name = names.argo_workflow_name(inp.experiment)
            lab.argo_workflows.add(name)
            return c.SubmittedArgoWorkflow(name=name)

        @activity.defn(name=c.DISCOVER_TUTORIAL_SERVICES)
        async def discover(inp: c.DiscoverTutorialServicesInput) -> c.DiscoveredTutorialServices:
            lab.record(c.DISCOVER_TUTORIAL_SERVICES, ",".join(s.name for s in inp.services))
            found = [DiscoveredService(name=s.name, endpoint=f"http://{s.service}.{s.namespace}", ready=True)
                     for s in inp.services]  # fmt: skip
            return c.DiscoveredTutorialServices(services=found)

        @activity.defn(name=c.WAIT_FOR_ARGO_WORKFLOW)
        async def wait_argo(inp: c.WaitForArgoWorkflowInput) -> c.FinishedArgoWorkflow:
            lab.record(c.WAIT_FOR_ARGO_WORKFLOW, inp.name)
            if lab.argo_suspends and inp.name not in lab.resumed:  # poll by retry, as hang_clusters does
                raise ApplicationError(f"Workflow {inp.name}: Running (suspended)", type="NotFinished")
            return c.FinishedArgoWorkflow(name=inp.name, phase=lab.argo_phase, message="step load failed")

        @activity.defn(name=c.RESUME_ARGO_WORKFLOW)
        async def resume_argo(inp: c.ResumeArgoWorkflowInput) -> c.ResumedArgoWorkflow:
            lab.record(c.RESUME_ARGO_WORKFLOW, inp.name)
            suspended = lab.argo_suspends and inp.name not in lab.resumed
            lab.resumed.add(inp.name)
            return c.ResumedArgoWorkflow(name=inp.name, resumed_nodes=["wait-for-complete"] if suspended else [])

        @activity.defn(name=c.COLLECT_METRICS)
        async def collect(inp: c.CollectMetricsInput) -> c.MetricsCollection:
            lab.record(c.COLLECT_METRICS, str(inp.iteration))
            total, with_data = lab.coverage[min(lab.collections, len(lab.coverage) - 1)]
            lab.collections += 1
            return c.MetricsCollection(
                snapshot_key=names.metrics_snapshot_key(inp.experiment),
                total_metrics=total,
                metrics_with_data=with_data,
                missing_metrics=[f"m{i}" for i in range(total - with_data)],
                values=lab.values,
            )

        @activity.defn(name=c.STORE_RESULTS)
        async def store(inp: c.StoreResultsInput) -> c.StoredResults:
            lab.record(c.STORE_RESULTS, str(inp.status.phase))
            return c.StoredResults(
                results_url=names.results_url(inp.experiment), summary_key=names.summary_key(inp.experiment)
            )

        @activity.defn(name=c.PUBLISH_RESULTS)
        async def publish(inp: c.PublishResultsInput) -> c.PublishedResults:
            lab.record(c.PUBLISH_RESULTS, inp.summary_key)
            number = len(lab.prs) + 1
            lab.prs[number] = "open"
            return c.PublishedResults(
                branch=names.publish_branch(inp.experiment.name), pr_number=number, pr_url=f"https://gh/pr/{number}"
            )

        @activity.defn(name=c.RUN_ANALYSIS)
        async def analyse(inp: c.RunAnalysisInput) -> c.AnalysisOutcome:
            lab.record(c.RUN_ANALYSIS, ",".join(inp.sections))
            return c.AnalysisOutcome(
                job_name=names.analysis_job_name(inp.experiment),
                succeeded=lab.analysis_succeeds,
                analysis_key=f"{inp.experiment.name}/analysis/analysis_final.json",
            )

        @activity.defn(name=c.MERGE_RESULTS_PR)
        async def merge(inp: c.ResultsPullRequest) -> None:
            lab.record(c.MERGE_RESULTS_PR, str(inp.pr_number))
            lab.prs[inp.pr_number] = "merged"

        @activity.defn(name=c.CLOSE_RESULTS_PR)
        async def close(inp: c.ResultsPullRequest) -> None:
            lab.record(c.CLOSE_RESULTS_PR, str(inp.pr_number))
            lab.prs[inp.pr_number] = "closed"

        @activity.defn(name=c.CLEANUP_EXPERIMENT)
        async def cleanup(inp: c.CleanupInput) -> c.CleanupReport:
            lab.record(c.CLEANUP_EXPERIMENT, ",".join(t.name for t in inp.targets))
            deleted = [x for x in lab.apps if x.startswith(f"{inp.experiment.name}-")]
            deleted += [t.cluster_name for t in inp.targets if t.cluster_name in lab.claims]
            lab.apps -= set(deleted)
            lab.claims -= {t.cluster_name for t in inp.targets}
            lab.argo_workflows.discard(names.argo_workflow_name(inp.experiment))
            return c.CleanupReport(deleted=deleted)

        return [
            validate, provision, wait_ready, deploy, discover, submit, wait_argo, resume_argo, collect,
            store, publish, analyse, merge, close, cleanup,
        ]  # fmt: skip

    # ------------------------------------------------------------------- gateway queue

    def gateway_activities(self) -> list[Callable[..., Any]]:
        lab = self

        @activity.defn(name=c.REPORT_STATUS)
        async def report_status(inp: c.ReportStatusInput) -> None:
            lab.statuses.append(inp)

        @activity.defn(name=c.DELETE_EXPERIMENT)
        async def delete_experiment(inp: c.DeleteExperimentInput) -> None:
            lab.record(c.DELETE_EXPERIMENT, inp.reason)
            lab.deleted_experiments.append(inp)

        return [report_status, delete_experiment]
