"""Every real activity the experiments worker registers (the gateway serves its own two), built from the
worker's one settings object: nothing below reads the environment.

``WorkerActivities(settings)`` is what ``worker`` registers (and closes on shutdown). ``KubernetesActivities``
binds the cluster-facing activities (each method one activity, named in its package's contracts) to the
settings and owns the hub watches its waits share (activities/watches.py); the results pipeline's and
the analysis' activities are methods of ``ResultsActivities`` and ``AnalysisActivities``.
Tests build these with their own settings. All are ``async def`` and move blocking kubernetes-client
calls to threads, so no activity executor is needed. Target kubeconfigs for metrics discovery come from
the Crossplane connection Secrets on the hub, read inside the activity like every other credential.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import cleanup, validation
from activities.clusters import provisioning, target_plumbing
from activities.clusters.claims import read_kubeconfig
from activities.clusters.cloud_access import close_target_clients
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
    VALIDATE_EXPERIMENT,
    CleanupInput,
    CleanupReport,
    ValidateInput,
    ValidationResult,
)
from activities.deploy import argocd
from activities.deploy.contracts import DEPLOY_APPLICATIONS, DeployApplicationsInput, DeployedApplications
from activities.kube import hub_client, import_api_classes
from activities.publish.claude_analysis import AnalysisActivities
from activities.results.metrics_collection import KubeconfigSource
from activities.results.pipeline import ResultsActivities
from activities.results.s3_store import ResultsStore
from activities.run import argo_workflows
from activities.run.contracts import (
    RESUME_ARGO_WORKFLOW,
    SUBMIT_ARGO_WORKFLOW,
    WAIT_FOR_ARGO_WORKFLOW,
    FinishedArgoWorkflow,
    ResumeArgoWorkflowInput,
    ResumedArgoWorkflow,
    SubmitArgoWorkflowInput,
    SubmittedArgoWorkflow,
    WaitForArgoWorkflowInput,
)
from activities.settings import ActivitySettings, WorkerActivitySettings
from activities.watches import HubWatches


class KubernetesActivities:
    def __init__(self, settings: ActivitySettings) -> None:
        self.settings = settings
        self.watches = HubWatches(settings)

    def close(self) -> None:
        """Stop the watches (their threads and connections) and close the target-cluster clients."""
        self.watches.stop()
        close_target_clients()

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.validate_experiment,
            self.provision_cluster,
            self.wait_for_cluster_ready,
            self.deploy_applications,
            self.submit_argo_workflow,
            self.wait_for_argo_workflow,
            self.resume_argo_workflow,
            self.cleanup_experiment,
            self.discover_tutorial_services,
        ]

    @activity.defn(name=VALIDATE_EXPERIMENT)
    async def validate_experiment(self, inp: ValidateInput) -> ValidationResult:
        return await validation.validate_experiment(inp, self.settings, self.watches)

    @activity.defn(name=PROVISION_CLUSTER)
    async def provision_cluster(self, inp: ProvisionClusterInput) -> ProvisionedCluster:
        return await provisioning.provision_cluster(inp, self.settings)

    @activity.defn(name=WAIT_FOR_CLUSTER_READY)
    async def wait_for_cluster_ready(self, inp: WaitForClusterInput) -> ReadyCluster:
        return await provisioning.wait_for_cluster_ready(inp, self.settings, self.watches)

    @activity.defn(name=DEPLOY_APPLICATIONS)
    async def deploy_applications(self, inp: DeployApplicationsInput) -> DeployedApplications:
        return await argocd.deploy_applications(inp, self.settings, self.watches)

    @activity.defn(name=SUBMIT_ARGO_WORKFLOW)
    async def submit_argo_workflow(self, inp: SubmitArgoWorkflowInput) -> SubmittedArgoWorkflow:
        return await argo_workflows.submit_argo_workflow(inp, self.settings, self.watches)

    @activity.defn(name=WAIT_FOR_ARGO_WORKFLOW)
    async def wait_for_argo_workflow(self, inp: WaitForArgoWorkflowInput) -> FinishedArgoWorkflow:
        return await argo_workflows.wait_for_argo_workflow(inp, self.settings, self.watches)

    @activity.defn(name=RESUME_ARGO_WORKFLOW)
    async def resume_argo_workflow(self, inp: ResumeArgoWorkflowInput) -> ResumedArgoWorkflow:
        return await argo_workflows.resume_argo_workflow(inp, self.settings)

    @activity.defn(name=CLEANUP_EXPERIMENT)
    async def cleanup_experiment(self, inp: CleanupInput) -> CleanupReport:
        return await cleanup.cleanup_experiment(inp, self.settings, self.watches)

    @activity.defn(name=DISCOVER_TUTORIAL_SERVICES)
    async def discover_tutorial_services(self, inp: DiscoverTutorialServicesInput) -> DiscoveredTutorialServices:
        return await target_plumbing.discover_tutorial_services(inp, self.settings, self.watches)


log = logging.getLogger(__name__)


def kubeconfig_from_hub(settings: ActivitySettings, watches: HubWatches) -> KubeconfigSource:
    """Reads a remote target's kubeconfig from the hub, or None (metrics then come from the hub)."""

    async def kubeconfig(target: str, cluster_type: str, cluster_name: str) -> str | None:
        def read() -> str | None:
            try:
                with hub_client(settings) as api:
                    return read_kubeconfig(api, cluster_type, cluster_name, watches)
            except Exception as err:  # no claim, not bound, no hub access: fall back to the hub's metrics
                log.warning("no kubeconfig for target %s (%s): %s; using hub metrics", target, cluster_name, err)
                return None

        return await asyncio.to_thread(read)

    return kubeconfig


def results_activities(settings: WorkerActivitySettings, watches: HubWatches) -> list[Callable[..., Any]]:
    # One S3 client for both, built now: each costs about a CPU-second (botocore loads the S3 model), which
    # the first collection paid on the event loop. Building it contacts nothing.
    store = ResultsStore.from_settings(settings)
    results = ResultsActivities(settings, kubeconfig_from_hub(settings, watches), store)
    analysis = AnalysisActivities(settings, store)
    return [
        results.collect_metrics,
        results.store_results,
        results.publish_results,
        results.merge_results_pr,
        results.close_results_pr,
        analysis.run_analysis,
    ]


class WorkerActivities:
    """Every activity the worker registers; ``close`` on shutdown stops what they share (the watches)."""

    def __init__(self, settings: WorkerActivitySettings) -> None:
        import_api_classes()
        self.kubernetes = KubernetesActivities(settings)
        self.results = results_activities(settings, self.kubernetes.watches)

    def all(self) -> list[Callable[..., Any]]:
        return [*self.kubernetes.all(), *self.results]

    def close(self) -> None:
        self.kubernetes.close()
