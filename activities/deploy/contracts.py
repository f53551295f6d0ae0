"""Contracts of the deploy activity: one layer's ArgoCD Applications on one target."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from activities.contracts import Contract, ExperimentRef
from api.experiment import Target

DEPLOY_APPLICATIONS = "deploy_applications"
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
