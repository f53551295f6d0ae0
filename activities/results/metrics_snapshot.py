"""The metrics snapshot: the JSON the original wrote to ``metrics-snapshot.json`` and ``summary.metrics``.

The original shape is kept field for field (the benchmark site reads it): ``collectedAt``, ``source``,
``timeRange``, ``queries.<name>.{query,type,unit,description,error,data[]}``. Added: each query's
``source``, and ``targets`` (one block per target, so a two-target comparison keeps both sides; the
original let the last target overwrite the others, seed bug 19). The top-level ``queries`` is the
merge of all targets, with a ``target`` label on every point, so old readers see every series.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import fmean

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.experiment import MetricType


class WireModel(BaseModel):
    """camelCase JSON, ``None`` fields left out, like the original's ``omitempty``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, use_enum_values=True)

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DataPoint(WireModel):
    labels: dict[str, str] | None = None
    timestamp: datetime
    value: float


class QueryResult(WireModel):
    query: str
    type: MetricType
    unit: str | None = None
    description: str | None = None
    source: str | None = None
    error: str | None = None
    data: list[DataPoint] | None = None

    @property
    def has_data(self) -> bool:
        return not self.error and bool(self.data)


class TimeWindow(WireModel):
    start: datetime
    end: datetime
    duration: str = Field(description="Prometheus duration text of end - start.")
    step_seconds: int

    @property
    def length(self) -> timedelta:
        return self.end - self.start


class TargetMetrics(WireModel):
    source: str | None = None
    queries: dict[str, QueryResult] = Field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(q.has_data for q in self.queries.values())


class MetricsSnapshot(WireModel):
    collected_at: datetime
    source: str | None = None
    time_range: TimeWindow
    queries: dict[str, QueryResult] = Field(default_factory=dict)
    targets: dict[str, TargetMetrics] = Field(default_factory=dict)

    @classmethod
    def merge(cls, collected_at: datetime, window: TimeWindow, targets: dict[str, TargetMetrics]) -> MetricsSnapshot:
        """Build the top-level view: every target's series under one query name, labelled with its target."""
        merged: dict[str, QueryResult] = {}
        for target, block in targets.items():
            for name, result in block.queries.items():
                into = merged.setdefault(name, result.model_copy(update={"data": [], "error": None, "source": None}))
                if result.source and result.source not in (into.source or "").split("; "):
                    into.source = "; ".join(filter(None, [into.source, result.source]))
                if result.error:
                    into.error = "; ".join(filter(None, [into.error, f"{target}: {result.error}"]))
                assert into.data is not None
                into.data.extend(
                    p.model_copy(update={"labels": {"target": target, **(p.labels or {})}}) for p in result.data or []
                )
        for result in merged.values():
            if result.data:
                result.error = None  # one target answering is enough for the merged view; errors stay per target
            else:
                result.data = None
        sources = sorted({b.source for b in targets.values() if b.source})
        return cls(
            collected_at=collected_at,
            source="; ".join(sources) or None,
            time_range=window,
            queries=merged,
            targets=targets,
        )

    def representative_values(self) -> dict[str, float]:
        """One value per query (seed §3.12): the single point of an instant query, else the mean of all points.

        Keyed by query name (over all targets, as the original's single result was) and ``<target>/<name>``
        per target, which metric names (``^[a-z][a-z0-9_]*$``) can never collide with.
        """
        values = {name: v for name, r in self.queries.items() if (v := representative(r)) is not None}
        for target, block in self.targets.items():
            for name, result in block.queries.items():
                value = representative(result)
                if value is not None:
                    values[f"{target}/{name}"] = value
        return values


def representative(result: QueryResult) -> float | None:
    if not result.has_data or not result.data:
        return None
    if result.type == MetricType.INSTANT and len(result.data) == 1:
        return result.data[0].value
    return fmean(p.value for p in result.data)
