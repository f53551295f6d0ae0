"""The ``Component`` kind (cluster-scoped): a reusable, deployable building block.

Read-only catalog data: experiments name components, the deploy activities resolve them into
ArgoCD sources. Shape and names follow the original operator.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from api.base import GROUP_VERSION, ApiModel, ObjectMeta


class ComponentType(StrEnum):
    APP = "app"
    WORKFLOW = "workflow"
    CONFIG = "config"


class ParameterType(StrEnum):
    STRING = "string"
    INT = "int"
    BOOL = "bool"


class PodSecurityLevel(StrEnum):
    """Pod Security Standard level of the experiment namespace a Component deploys into."""

    BASELINE = "baseline"
    PRIVILEGED = "privileged"


class HelmParameter(ApiModel):
    name: str
    value: str
    force_string: bool | None = None


class HelmConfig(ApiModel):
    release_name: str | None = None
    values_files: list[str] | None = Field(None, description="Becomes the ArgoCD source's valueFiles.")
    parameters: list[HelmParameter] | None = None


class ComponentSource(ApiModel):
    repo_url: str = Field(alias="repoURL")
    target_revision: str = Field("HEAD", description="Git ref or Helm chart version; pin it.")
    path: str | None = Field(None, description="Directory in a git repository.")
    chart: str | None = Field(None, description="Chart name in a Helm repository.")
    helm: HelmConfig | None = None


class ComponentParameter(ApiModel):
    name: str
    type: ParameterType = ParameterType.STRING
    default: str | None = None
    description: str | None = None
    required: bool | None = None


class ComponentObservability(ApiModel):
    service_monitor: bool | None = None
    pod_monitor: bool | None = None
    pod_labels: dict[str, str] | None = None
    metrics_path: str = "/metrics"
    metrics_port: int | None = Field(None, ge=1, le=65535)


class ComponentSpec(ApiModel):
    description: str | None = None
    type: ComponentType
    sources: list[ComponentSource] | None = None
    parameters: list[ComponentParameter] | None = None
    observability: ComponentObservability | None = None
    pod_security: PodSecurityLevel | None = Field(
        None,
        description="Pod Security level its pods need: privileged for host namespaces, hostPath volumes or "
        "privileged containers (node agents, log shippers). Unset: baseline. The experiment namespace gets "
        "the most permissive level any of its Components declares.",
    )


class Component(ApiModel):
    api_version: Literal["experiments.illm.io/v1alpha1"] = GROUP_VERSION  # type: ignore[assignment]
    kind: Literal["Component"] = "Component"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ComponentSpec
