"""The cluster-facing activities the experiments worker registers, bound to the worker's settings.

``KubernetesActivities(settings).all()`` is what ``worker`` registers; each method is one activity
(name from activities/contracts.py) calling the integration module that implements it with the
settings object the worker read once at start. Tests build the class with their own settings.
All are ``async def`` and move blocking kubernetes-client calls to threads, so no activity executor
is needed. ``discover_tutorial_services`` is registered too, ready for the workflow to call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import cleanup, validation
from activities.clusters import provisioning, target_plumbing
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
from activities.settings import ActivitySettings


class KubernetesActivities:
    def __init__(self, settings: ActivitySettings) -> None:
        self.settings = settings

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
        return await validation.validate_experiment(inp, self.settings)

    @activity.defn(name=PROVISION_CLUSTER)
    async def provision_cluster(self, inp: ProvisionClusterInput) -> ProvisionedCluster:
        return await provisioning.provision_cluster(inp, self.settings)

    @activity.defn(name=WAIT_FOR_CLUSTER_READY)
    async def wait_for_cluster_ready(self, inp: WaitForClusterInput) -> ReadyCluster:
        return await provisioning.wait_for_cluster_ready(inp, self.settings)

    @activity.defn(name=DEPLOY_APPLICATIONS)
    async def deploy_applications(self, inp: DeployApplicationsInput) -> DeployedApplications:
        return await argocd.deploy_applications(inp, self.settings)

    @activity.defn(name=SUBMIT_ARGO_WORKFLOW)
    async def submit_argo_workflow(self, inp: SubmitArgoWorkflowInput) -> SubmittedArgoWorkflow:
        return await argo_workflows.submit_argo_workflow(inp, self.settings)

    @activity.defn(name=WAIT_FOR_ARGO_WORKFLOW)
    async def wait_for_argo_workflow(self, inp: WaitForArgoWorkflowInput) -> FinishedArgoWorkflow:
        return await argo_workflows.wait_for_argo_workflow(inp, self.settings)

    @activity.defn(name=RESUME_ARGO_WORKFLOW)
    async def resume_argo_workflow(self, inp: ResumeArgoWorkflowInput) -> ResumedArgoWorkflow:
        return await argo_workflows.resume_argo_workflow(inp, self.settings)

    @activity.defn(name=CLEANUP_EXPERIMENT)
    async def cleanup_experiment(self, inp: CleanupInput) -> CleanupReport:
        return await cleanup.cleanup_experiment(inp, self.settings)

    @activity.defn(name=DISCOVER_TUTORIAL_SERVICES)
    async def discover_tutorial_services(self, inp: DiscoverTutorialServicesInput) -> DiscoveredTutorialServices:
        return await target_plumbing.discover_tutorial_services(inp, self.settings)
