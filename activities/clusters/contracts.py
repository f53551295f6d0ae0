"""Contracts of the cluster activities: provisioning, readiness, tutorial service discovery."""

from __future__ import annotations

from pydantic import Field

from activities.contracts import Contract, ExperimentRef
from api.experiment import ClusterSpec, DiscoveredService, TutorialServiceRef

PROVISION_CLUSTER = "provision_cluster"
WAIT_FOR_CLUSTER_READY = "wait_for_cluster_ready"
DISCOVER_TUTORIAL_SERVICES = "discover_tutorial_services"


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
