"""The worker's settings, from the environment (one typed object; see the README table)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace of the experiments.")
    worker_health_host: str = Field("0.0.0.0", description="Address of the health endpoint (the lab uses 127.0.0.1).")
    worker_health_port: int = Field(8082, ge=0, le=65535, description="/healthz and /readyz; 0 disables.")
    worker_max_concurrent_activities: int = Field(50, ge=1, description="Activities run at once by this worker.")
    log_level: str = Field("INFO", description="Python log level.")
