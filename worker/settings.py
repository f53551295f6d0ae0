"""The worker's one settings object, read from the environment once at start (see the README table).

It is also what the activities and the payload codec are configured by (``WorkerActivitySettings``,
``PayloadKeySettings``): ``worker.__main__`` hands it down, nothing below reads the environment.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from activities.settings import WorkerActivitySettings
from worker.codec import PayloadKeySettings


class WorkerSettings(WorkerActivitySettings, PayloadKeySettings):
    model_config = SettingsConfigDict(extra="ignore")

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace of the experiments.")
    worker_health_host: str = Field("0.0.0.0", description="Address of the health endpoint (the lab uses 127.0.0.1).")
    worker_health_port: int = Field(8082, ge=0, le=65535, description="/healthz, /readyz and /metrics.")
    worker_max_concurrent_activities: int = Field(50, ge=1, description="Activities run at once by this worker.")
    worker_max_concurrent_workflow_tasks: int = Field(
        8,
        ge=2,
        description="Workflow tasks run at once. They are CPU-bound Python under one GIL: more at once only makes "
        "each slower, and a cold worker (after a restart) that takes up to the SDK's default 100 replays at once "
        "on a busy machine finishes none within the 10 s workflow task timeout, so all are retried.",
    )
    worker_sticky_queue_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a workflow task waits on this worker's sticky queue before the server hands it to "
        "any worker with the whole history, which replays the run from its start. The SDK's 10 s is shorter than "
        "the wait at 1,000 concurrent runs with 8 task slots (2.4 replays per experiment); 30 s matches the "
        "activities' heartbeat timeout, which a killed worker's runs wait out anyway.",
    )
    worker_graceful_shutdown_seconds: float = Field(
        50.0,
        ge=0,
        description="On SIGTERM, running activities get this long to finish before they are cancelled (and "
        "retried elsewhere); keep it below the pod's terminationGracePeriodSeconds (60).",
    )
    worker_readiness_interval_seconds: float = Field(
        5.0, gt=0, description="How often /readyz re-checks the connection and that the server sees us polling."
    )
    worker_sdk_metrics_port: int = Field(
        0, ge=0, le=65535, description="Loopback port of the SDK's Prometheus exporter (served via /metrics); 0: any."
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP base URL (e.g. http://tempo.observability:4318); set: traces are exported."
    )
    log_level: str = Field("INFO", description="Python log level.")
