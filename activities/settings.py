"""Settings of the activities: the cluster-facing ones (``ActivitySettings``) and the results pipeline's
(``ResultsSettings``: metrics, S3, GitHub, Claude), one ``WorkerActivitySettings`` for the worker.

The worker reads them once at start (``worker.settings.WorkerSettings`` is a ``WorkerActivitySettings``)
and hands the object to the activities it registers (``activities.registry.activities``); activity code
never reads the environment. Every value is a reference or a knob, never a credential in Temporal
history: kubeconfigs are read from files or Secrets inside the activity, and secrets (``GITHUB_TOKEN``,
``ANTHROPIC_API_KEY``) only here, inside the worker process. Results defaults are the original operator's
(seed §5), so an unchanged hub deployment keeps working.

| Variable | Default | Meaning |
|---|---|---|
| ``HUB_KUBECONFIG`` | unset: ``$KUBECONFIG``, in-cluster, ``~/.kube/config`` | the hub (runtime/kube.py) |
| ``METRICS_DIRECT_WRITE_URL`` | unset | remote-write URL of the hub's VictoriaMetrics for ``transport: direct`` |
| ``TAILSCALE_CLIENT_ID`` / ``TAILSCALE_CLIENT_SECRET`` | unset | OAuth client for the injected tailscale-operator |
| ``ARGOCD_HEALTH_RULE`` | ``strict`` | ``strict``: Healthy and Synced; ``lenient``: the original's rule |
| ``WATCH_RESYNC_SECONDS`` | ``30`` | watches wake waits (activities/watches.py); safety-net re-read, ± 20 % |
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

from api.names import RESULTS_BUCKET
from runtime.kube import ClusterChoice


class ResultsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # --- metrics
    metrics_url: str = Field(
        "http://victoria-metrics-server.observability.svc:8428",
        description="Hub VictoriaMetrics (Prometheus API); empty disables the hub path.",
    )
    metrics_query_timeout_seconds: float = Field(30.0, description="Per PromQL request (the original had none).")
    metrics_probe_timeout_seconds: float = Field(5.0, description="Target Prometheus buildinfo probe.")
    metrics_query_attempts: int = Field(3, ge=1, description="Attempts per query on transport errors / 5xx.")
    metrics_parallelism: int = Field(4, ge=1, description="Concurrent PromQL requests per endpoint.")

    # --- storage
    s3_endpoint: str = Field("seaweedfs-s3.seaweedfs.svc.cluster.local:8333", description="Host:port or URL.")
    s3_bucket: str = RESULTS_BUCKET
    s3_access_key: str = "any"
    s3_secret_key: SecretStr = SecretStr("any")
    s3_region: str = "us-east-1"
    results_public_url: str = Field("", description="HTTP base for links to results objects; default S3_ENDPOINT.")
    s3_write_attempts: int = Field(5, ge=1, description="Attempts per object before the store is declared down.")
    s3_retry_initial_seconds: float = Field(1.0, ge=0, description="First back-off; doubles each attempt.")

    # --- report
    temporal_ui_url: str = Field("", description="Base URL of the Temporal UI, for history links in the report.")
    temporal_namespace: str = "default"

    # --- GitHub
    github_token: SecretStr = SecretStr("")
    github_repo: str = "illMadeCoder/k8s-ai-cloud-testbed"
    github_branch: str = "main"
    github_results_path: str = "site/data"
    github_api_url: str = "https://api.github.com"
    github_timeout_seconds: float = 30.0
    github_seconds_between_requests: float = Field(0.25, ge=0, description="PyGithub's default throttle.")
    github_seconds_between_writes: float = Field(1.0, ge=0, description="GitHub asks for >= 1 s between writes.")
    github_rate_limit_retries: int = Field(2, ge=0, description="Rate-limited requests retried inside one call.")
    github_secondary_rate_wait_seconds: float = Field(
        60.0, ge=0, description="Wait after a secondary rate limit without Retry-After (GitHub: at least a minute)."
    )
    github_max_rate_limit_wait_seconds: float = Field(
        60.0, ge=0, description="Longest rate-limit wait inside a call; a longer one is a Temporal retry delay."
    )

    # --- Claude
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_base_url: str = ""
    analyzer_model: str = "claude-opus-4-6"
    analyzer_max_tokens: int = Field(8000, ge=256, description="Output budget per pass.")
    analyzer_attempts: int = Field(4, ge=1, description="Attempts per pass on 429/529/overload.")
    analyzer_retry_initial_seconds: float = Field(2.0, ge=0)
    analyzer_timeout_seconds: float = Field(300.0, description="Per Messages API request.")

    @property
    def s3_url(self) -> str:
        """The original took ``host:port`` and always spoke http; a full URL is accepted too."""
        endpoint = self.s3_endpoint
        return endpoint if endpoint.startswith(("http://", "https://")) else f"http://{endpoint}"

    @property
    def github_enabled(self) -> bool:
        return bool(self.github_token.get_secret_value())

    @property
    def claude_enabled(self) -> bool:
        return bool(self.anthropic_api_key.get_secret_value())


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
    watch_resync_seconds: float = Field(30.0, gt=0, description="Safety-net re-read of a watched object, ± 20 %.")
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
