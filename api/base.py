"""Shared building blocks of the API models: camelCase wire names, Kubernetes metadata, durations.

Every model of the public API derives from :class:`ApiModel`, so the YAML a user writes, the CRD
schema the API server enforces and the status the gateway writes all use one spelling per field.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_GROUP = "experiments.illm.io"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"


class ApiModel(BaseModel):
    """A spec object: camelCase on the wire, unknown fields rejected (a typo is an error)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase keys, unset optionals left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StatusModel(ApiModel):
    """A status object: written by us, read back from the API server; unknown fields ignored."""

    model_config = ConfigDict(extra="ignore")


_DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

Duration = Annotated[
    str,
    Field(
        pattern=_DURATION_RE.pattern,
        description="A duration such as 90s, 45m, 1h30m or 7d.",
    ),
]


def parse_duration(text: str) -> timedelta:
    """``1h30m`` → ``timedelta(hours=1, minutes=30)``; raises ValueError on anything else."""
    if not _DURATION_RE.match(text):
        raise ValueError(f"{text!r} is not a duration like 90s, 45m, 1h30m or 7d")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Prometheus-style duration text (``2h30m``, ``45s``, ``0s``), as the original operator wrote."""
    total = abs(int(value.total_seconds()))
    if total == 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts)


class ObjectMeta(BaseModel):
    """The parts of Kubernetes ``metadata`` we read; everything else is kept as is."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)
