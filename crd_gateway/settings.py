"""The gateway's one settings object, read from ``GATEWAY_*`` environment variables.

Every knob names the failure it guards against; the defaults are client-go's and kopf's numbers
(reference/practices.md §C) unless a comment says otherwise.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from activities.contracts import EXPERIMENTS_TASK_QUEUE, GATEWAY_TASK_QUEUE
from runtime.kube import ClusterChoice
from worker.codec import PayloadKeySettings


def _default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", validate_by_name=True)

    # Kubernetes
    kubeconfig: str | None = Field(
        None, description="Kubeconfig file; unset: $KUBECONFIG, in-cluster, ~/.kube/config (runtime/kube.py)."
    )
    env_kubeconfig: str | None = Field(None, validation_alias="KUBECONFIG", description="$KUBECONFIG, as kubectl.")
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated namespaces to watch; empty: all namespaces."
    )
    kube_request_timeout: float = Field(10.0, gt=0, description="One API call; a hung call must not hang a worker.")
    list_page_size: int = Field(
        500,
        ge=1,
        description="Experiments per LIST page (limit/continue, as client-go's reflector): 10,000 objects are never "
        "one response held whole in the API server's and the gateway's memory.",
    )
    kube_qps: float = Field(
        100.0,
        gt=0,
        description="API-server writes (finalizers, status, Events, deletes) per second, token bucket. client-go's "
        "default is 5; 1,000 Experiments created at once need ~1,000 finalizer patches plus their first status "
        "writes within 30 s, ~100/s.",
    )
    kube_burst: int = Field(200, ge=1, description="Writes allowed at once above kube_qps (client-go default 10).")

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str | None = Field(
        None,
        validation_alias=AliasChoices("GATEWAY_TEMPORAL_UI_URL", "TEMPORAL_UI_URL"),
        description="Base URL of the Temporal UI for status.temporal.uiURL; unset: no link.",
    )
    workflow_task_queue: str = EXPERIMENTS_TASK_QUEUE
    temporal_qps: float = Field(
        100.0,
        gt=0,
        description="Temporal RPCs per second (describe, start, cancel, update, visibility pages), token bucket: "
        "a relist of 10,000 Experiments must not flood the frontend (its default namespace RPS limit is 2,400).",
    )
    temporal_burst: int = Field(200, ge=1, description="Temporal RPCs allowed at once above temporal_qps.")
    gateway_task_queue: str = GATEWAY_TASK_QUEUE

    # Watch (practices §C.1)
    watch_timeout_seconds: int = Field(300, gt=0, description="Server-side watch timeout; then resume from the RV.")
    watch_stall_seconds: float = Field(
        70.0, gt=0, description="No byte (not even a bookmark, sent ~every 60 s) for this long: the stream is dead."
    )
    reconnect_backoff_initial: float = Field(0.1, gt=0)
    reconnect_backoff_max: float = Field(30.0, gt=0)
    resync_seconds: float = Field(
        300.0,
        gt=0,
        description="Sweep every cached Experiment this often: one visibility query for the running workflows, "
        "then a reconcile only for those whose plan against that answer has something to do.",
    )

    # Reconcile
    workers: int = Field(
        16,
        ge=1,
        description="Experiments reconciled concurrently (one key is never concurrent). A reconcile mostly waits on "
        "the API server and Temporal, and the rate limits (kube_qps, temporal_qps) bound what reaches them.",
    )
    error_backoff_initial: float = Field(0.5, gt=0, description="First retry after a failed reconcile.")
    error_backoff_max: float = Field(
        60.0,
        gt=0,
        description="Temporal or the API server down: retry at most this often. Doubles per failure, each delay "
        "jittered down to half, so keys that failed together do not retry together.",
    )
    deletion_poll_seconds: float = Field(
        5.0,
        gt=0,
        description="Re-check a cancelled workflow's cleanup this often: the fallback for a workflow that closes "
        "without a last status report (terminated, timed out); a report re-checks at once.",
    )
    deletion_grace_seconds: float = Field(
        900.0,
        ge=0,
        description="A deleted Experiment's finalizer is held at most its cleanup deadline (spec.deadlines.cleanup, "
        "default 30 m) plus this, then released with what may be left recorded in an Event and the log. Guards "
        "against a deletion that never ends while Temporal, the worker or the hub is down: kubectl delete, the "
        "namespace's deletion and re-creating the name all wait on the finalizer. The grace covers the rest of "
        "the workflow's end (closing a pending PR, the last status report); the default gives 45 m in all.",
    )

    # Leader election (client-go defaults: failover ≤ lease + retry ≈ 17 s)
    leader_election: bool = True
    lease_name: str = "crd-gateway"
    lease_namespace: str = "experiment-operator-system"
    lease_duration_seconds: float = Field(15.0, gt=0)
    renew_deadline_seconds: float = Field(10.0, gt=0)
    retry_period_seconds: float = Field(2.0, gt=0)
    identity: str = Field(
        default_factory=_default_identity,
        validation_alias=AliasChoices("GATEWAY_IDENTITY", "POD_NAME"),
        description="Leader-election holder identity; unset: the pod's name, else host-pid.",
    )

    # Payload encryption: EXPERIMENT_PAYLOAD_KEY(S) and EXPERIMENT_PAYLOAD_ENCRYPTION_REQUIRED, no GATEWAY_ prefix
    payload_keys: PayloadKeySettings = Field(default_factory=PayloadKeySettings, exclude=True)

    # Operability
    health_port: int = Field(8081, ge=0, le=65535, description="/healthz /readyz /metrics; 0: any free port.")
    health_host: str = "0.0.0.0"
    log_level: str = "INFO"

    @property
    def cluster_choice(self) -> ClusterChoice:
        return ClusterChoice(explicit=self.kubeconfig, env=self.env_kubeconfig)

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("renew_deadline_seconds")
    @classmethod
    def _renew_before_expiry(cls, value: float, info: object) -> float:
        data = getattr(info, "data", {})
        if value >= data.get("lease_duration_seconds", float("inf")):
            raise ValueError("renew_deadline_seconds must be shorter than lease_duration_seconds")
        return value
