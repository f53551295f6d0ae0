"""Settings of the activities: the cluster-facing ones here, the results pipeline's in results_settings.py.

The worker reads them once at start (``worker.settings.WorkerSettings`` is a ``WorkerActivitySettings``)
and hands the object to the activities it registers (``activities.registry.activities``); activity code
never reads the environment. Every value is a reference or a knob, never a credential in Temporal
history: kubeconfigs are read from files or Secrets inside the activity.

| Variable | Default | Meaning |
|---|---|---|
| ``HUB_KUBECONFIG`` | unset: ``$KUBECONFIG``, in-cluster, ``~/.kube/config`` | the hub (runtime/kube.py) |
| ``METRICS_DIRECT_WRITE_URL`` | unset | remote-write URL of the hub's VictoriaMetrics for ``transport: direct`` |
| ``TAILSCALE_CLIENT_ID`` / ``TAILSCALE_CLIENT_SECRET`` | unset | OAuth client for the injected tailscale-operator |
| ``ARGOCD_HEALTH_RULE`` | ``strict`` | ``strict``: Healthy and Synced; ``lenient``: the original's rule |
| ``ACTIVITY_POLL_SECONDS`` | ``1.0`` | how often long waits re-read the hub |
| ``CLUSTER_FAILURE_GRACE_SECONDS`` | ``300`` | how long a claim may report ReconcileError before it counts as failed |
| ``CLEANUP_WAIT_SECONDS`` | ``480`` | how long cleanup waits for claims and apps to disappear |
| ``AZURE_DISABLE_INSTANCE_DISCOVERY`` | ``false`` | AKS: skip Entra instance discovery (private clouds) |
| ``KUBE_CONNECT_TIMEOUT_SECONDS`` | ``10`` | connect timeout of every Kubernetes API request (hub and targets) |
| ``KUBE_READ_TIMEOUT_SECONDS`` | ``30`` | read timeout of every Kubernetes API request (a hung one fails, not blocks) |
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.results_settings import ResultsSettings
from runtime.kube import ClusterChoice


class HealthRule(StrEnum):
    STRICT = "strict"
    LENIENT = "lenient"


class ActivitySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    hub_kubeconfig: Path | None = None
    kubeconfig: str | None = Field(None, description="$KUBECONFIG: the hub when HUB_KUBECONFIG is unset.")
    metrics_direct_write_url: str | None = None
    tailscale_client_id: str | None = None
    tailscale_client_secret: SecretStr | None = None
    argocd_health_rule: HealthRule = HealthRule.STRICT
    activity_poll_seconds: float = 1.0
    cluster_failure_grace_seconds: float = 300.0
    cleanup_wait_seconds: float = 480.0
    azure_disable_instance_discovery: bool = False
    kube_connect_timeout_seconds: float = 10.0
    kube_read_timeout_seconds: float = 30.0

    @property
    def kube_request_timeout(self) -> tuple[float, float]:
        """``_request_timeout`` of the kubernetes client: (connect, read) seconds."""
        return (self.kube_connect_timeout_seconds, self.kube_read_timeout_seconds)

    @property
    def hub_cluster(self) -> ClusterChoice:
        """The hub, by runtime/kube.py's order: ``HUB_KUBECONFIG``, ``$KUBECONFIG``, in-cluster, ``~/.kube/config``."""
        return ClusterChoice(explicit=str(self.hub_kubeconfig) if self.hub_kubeconfig else None, env=self.kubeconfig)


class WorkerActivitySettings(ActivitySettings, ResultsSettings):
    """Everything the worker's activities are configured by: one object, read once by the worker."""
