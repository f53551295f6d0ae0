"""The contract between the experiment workflow and its activities: what every side shares.

Task queues, the ``Contract`` base, the Experiment's identity (``ExperimentRef``), and the contracts of
the activities that belong to no single integration: validation, cleanup and the gateway's two
(``report_status``, ``delete_experiment``). Each integration's contracts live beside it
(``activities/<integration>/contracts.py``); permanent errors in ``activities/errors.py``.

The workflow calls activities by name with these models, so an activity implementation (or a test
fake) only has to register ``@activity.defn(name=...)`` with the same types. Inputs carry the
Experiment's identity, names and small facts; large data (metric series, analysis text) lives in S3
and travels as keys. Nothing here may carry a secret: inputs end up in Temporal history.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.experiment import ExperimentSpec, ExperimentStatus

EXPERIMENTS_TASK_QUEUE = "experiments"
"""The worker: the workflow and every cloud-facing activity."""
GATEWAY_TASK_QUEUE = "crd-gateway"
"""The CRD gateway: writes status onto the Experiment and deletes it at its TTL."""
VALIDATE_EXPERIMENT = "validate_experiment"
CLEANUP_EXPERIMENT = "cleanup_experiment"
REPORT_STATUS = "report_status"
DELETE_EXPERIMENT = "delete_experiment"
GATEWAY_ACTIVITIES = (REPORT_STATUS, DELETE_EXPERIMENT)


class Contract(BaseModel):
    """Activity I/O: snake_case, unknown fields ignored so either side can add fields first."""

    model_config = ConfigDict(extra="ignore", frozen=False)


class ExperimentRef(Contract):
    """Which Experiment object this is about; every activity input starts with it."""

    namespace: str
    name: str
    uid: str
    generation: int = 1
    creation_timestamp: datetime


class ValidateInput(Contract):
    experiment: ExperimentRef
    spec: ExperimentSpec


class ValidationProblem(Contract):
    field: str = Field(description="Wire path, e.g. spec.targets[0].components[1].app")
    message: str
    fix: str | None = None


class ValidationResult(Contract):
    problems: list[ValidationProblem] = Field(default_factory=list)


class CleanupTarget(Contract):
    name: str
    cluster_type: str
    cluster_name: str


class CleanupInput(Contract):
    """Everything carries the Experiment's uid label, so cleanup needs no record of what exists.

    ``targets`` says which claim kinds to look for. (Histories may still carry ``argo_workflow`` and
    ``kubeconfig_secrets``: ignored, the labels find those objects.)
    """

    experiment: ExperimentRef
    targets: list[CleanupTarget]


class CleanupReport(Contract):
    deleted: list[str] = Field(default_factory=list)
    not_deleted: list[str] = Field(default_factory=list, description="'Kind/name: why' for each leftover.")


class ReportStatusInput(Contract):
    """The full status; ``sequence`` rises with every change so the gateway can drop a stale retry."""

    experiment: ExperimentRef
    sequence: int
    status: ExperimentStatus


class DeleteExperimentInput(Contract):
    experiment: ExperimentRef
    reason: str
