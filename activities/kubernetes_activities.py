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

from activities import argo_workflows, argocd, cleanup, crossplane, target_plumbing, validation
from activities import contracts as c
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

    @activity.defn(name=c.VALIDATE_EXPERIMENT)
    async def validate_experiment(self, inp: c.ValidateInput) -> c.ValidationResult:
        return await validation.validate_experiment(inp, self.settings)

    @activity.defn(name=c.PROVISION_CLUSTER)
    async def provision_cluster(self, inp: c.ProvisionClusterInput) -> c.ProvisionedCluster:
        return await crossplane.provision_cluster(inp, self.settings)

    @activity.defn(name=c.WAIT_FOR_CLUSTER_READY)
    async def wait_for_cluster_ready(self, inp: c.WaitForClusterInput) -> c.ReadyCluster:
        return await crossplane.wait_for_cluster_ready(inp, self.settings)

    @activity.defn(name=c.DEPLOY_APPLICATIONS)
    async def deploy_applications(self, inp: c.DeployApplicationsInput) -> c.DeployedApplications:
        return await argocd.deploy_applications(inp, self.settings)

    @activity.defn(name=c.SUBMIT_ARGO_WORKFLOW)
    async def submit_argo_workflow(self, inp: c.SubmitArgoWorkflowInput) -> c.SubmittedArgoWorkflow:
        return await argo_workflows.submit_argo_workflow(inp, self.settings)

    @activity.defn(name=c.WAIT_FOR_ARGO_WORKFLOW)
    async def wait_for_argo_workflow(self, inp: c.WaitForArgoWorkflowInput) -> c.FinishedArgoWorkflow:
        return await argo_workflows.wait_for_argo_workflow(inp, self.settings)

    @activity.defn(name=c.RESUME_ARGO_WORKFLOW)
    async def resume_argo_workflow(self, inp: c.ResumeArgoWorkflowInput) -> c.ResumedArgoWorkflow:
        return await argo_workflows.resume_argo_workflow(inp, self.settings)

    @activity.defn(name=c.CLEANUP_EXPERIMENT)
    async def cleanup_experiment(self, inp: c.CleanupInput) -> c.CleanupReport:
        return await cleanup.cleanup_experiment(inp, self.settings)

    @activity.defn(name=c.DISCOVER_TUTORIAL_SERVICES)
    async def discover_tutorial_services(self, inp: c.DiscoverTutorialServicesInput) -> c.DiscoveredTutorialServices:
        return await target_plumbing.discover_tutorial_services(inp, self.settings)
