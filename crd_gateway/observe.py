"""What the planner sees: an Experiment as stored and its workflow as Temporal describes it.

Turning raw objects into these values is the only parsing the gateway does; the planner never
touches a dict or a client. The workflow input is built here from the stored object:
``ExperimentInput(experiment=ExperimentRef(namespace, name, uid, generation, creation_timestamp),
spec=ExperimentSpec.model_validate(object["spec"]))``. A spec the model rejects is kept as
``spec_error`` (the planner then fails the Experiment instead of starting a workflow).

The controller caches these records, not the objects: 10,000 Experiments must fit in a small
gateway. So a record holds only what the planner and the executor read: identity, generation,
resourceVersion, deletion, finalizers, the two request annotations, and of the status its phase, its
Temporal reference and the conditions the planner compares against (``PLANNER_CONDITIONS``). The
spec is kept while the Experiment may still start a workflow or is being deleted (its cleanup
deadline and targets name what may be left); a finished one's spec is dropped, nothing planned for
it reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from activities.contracts import ExperimentRef
from api.base import ObjectMeta
from api.experiment import (
    COMPLETE_ANNOTATION,
    EXPERIMENT_FINALIZER,
    REVIEW_ANNOTATION,
    ExperimentPhase,
    ExperimentSpec,
    ExperimentStatus,
)
from api.names import workflow_id
from workflows.messages import ExperimentInput
from workflows.status import CLEANUP

REVIEW_REQUEST = "ReviewRequest"
COMPLETE_REQUEST = "CompleteRequest"
DELETING = "Deleting"
"""While the finalizer of a deleted Experiment is held: what it waits for, since when, until when."""
PLANNER_CONDITIONS = frozenset({DELETING, REVIEW_REQUEST, COMPLETE_REQUEST, CLEANUP})
"""The status conditions the planner reads."""
FINISHED = (ExperimentPhase.COMPLETE, ExperimentPhase.FAILED)


class WorkflowState(StrEnum):
    NOT_FOUND = "NotFound"
    RUNNING = "Running"
    CLOSED = "Closed"
    UNREACHABLE = "Unreachable"
    """Temporal did not answer: nothing may be concluded, least of all that cleanup ran."""


@dataclass(frozen=True)
class ObservedWorkflow:
    state: WorkflowState
    cancel_requested: bool = False
    run_id: str | None = None
    close_status: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ObservedExperiment:
    namespace: str
    name: str
    uid: str
    generation: int
    resource_version: str
    creation_timestamp: datetime
    deletion_timestamp: datetime | None
    has_finalizer: bool
    annotations: Mapping[str, str] = field(default_factory=dict)
    status: ExperimentStatus = field(default_factory=ExperimentStatus)
    spec: ExperimentSpec | None = None
    spec_error: str | None = None
    finalizers: tuple[str, ...] = ()

    @property
    def deleting(self) -> bool:
        return self.deletion_timestamp is not None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def workflow_id(self) -> str:
        return workflow_id(self.namespace, self.name, self.uid)

    @property
    def ref(self) -> ExperimentRef:
        return ExperimentRef(
            namespace=self.namespace,
            name=self.name,
            uid=self.uid,
            generation=self.generation,
            creation_timestamp=self.creation_timestamp,
        )

    def metadata_stub(self) -> dict[str, Any]:
        """The object as the Kubernetes calls address it (finalizer patches, Events)."""
        return {
            "metadata": {
                "namespace": self.namespace,
                "name": self.name,
                "uid": self.uid,
                "resourceVersion": self.resource_version,
                "finalizers": list(self.finalizers),
            }
        }

    def workflow_input(self) -> ExperimentInput:
        if self.spec is None:
            raise ValueError(f"{self.key} has no valid spec: {self.spec_error}")
        return ExperimentInput(experiment=self.ref, spec=self.spec)


def observe_experiment(obj: Mapping[str, Any]) -> ObservedExperiment:
    """An Experiment object (as the API server returns it) → what the planner needs, and no more."""
    meta = ObjectMeta.model_validate(obj.get("metadata") or {})
    status = slim_status(parse_status(obj.get("status")))
    spec: ExperimentSpec | None = None
    spec_error: str | None = None
    if status.phase not in FINISHED or meta.deletion_timestamp is not None:
        try:
            spec = ExperimentSpec.model_validate(obj.get("spec") or {})
        except ValidationError as err:
            spec_error = _describe(err)
    return ObservedExperiment(
        namespace=meta.namespace or "",
        name=meta.name or "",
        uid=meta.uid or "",
        generation=meta.generation or 1,
        resource_version=meta.resource_version or "",
        creation_timestamp=meta.creation_timestamp or datetime.now(UTC),
        deletion_timestamp=meta.deletion_timestamp,
        has_finalizer=EXPERIMENT_FINALIZER in meta.finalizers,
        annotations={k: v for k, v in meta.annotations.items() if k in (REVIEW_ANNOTATION, COMPLETE_ANNOTATION)},
        status=status,
        spec=spec,
        spec_error=spec_error,
        finalizers=tuple(meta.finalizers),
    )


def slim_status(status: ExperimentStatus) -> ExperimentStatus:
    """The part of a stored status the planner reads."""
    conditions = [c for c in status.conditions or [] if c.type in PLANNER_CONDITIONS]
    return ExperimentStatus(phase=status.phase, temporal=status.temporal, conditions=conditions or None)


def parse_status(raw: object) -> ExperimentStatus:
    """The stored status; one we cannot read counts as empty (the next report rewrites it)."""
    try:
        return ExperimentStatus.model_validate(raw or {})
    except ValidationError:
        return ExperimentStatus()


def _describe(err: ValidationError) -> str:
    parts = []
    for problem in err.errors()[:5]:
        where = ".".join(str(p) for p in ("spec", *problem["loc"]))
        parts.append(f"{where}: {problem['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
