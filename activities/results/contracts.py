"""Contracts of the results activities: metric collection and storing summary.json.

``MetricsCollection`` and ``CriterionResult`` are also what the quality gate and the hypothesis verdict
(``activities/results/judgement.py``) decide on.
"""

from __future__ import annotations

from pydantic import Field

from activities.contracts import Contract, ExperimentRef
from api.experiment import ExperimentSpec, ExperimentStatus

COLLECT_METRICS = "collect_metrics"
STORE_RESULTS = "store_results"


class CollectMetricsInput(Contract):
    experiment: ExperimentRef
    spec: ExperimentSpec
    cluster_names: dict[str, str] = Field(description="target → cluster name")
    iteration: int = Field(0, description="Quality-gate iteration; selects the $DURATION window.")


class MetricsCollection(Contract):
    """What the workflow needs to decide; the series themselves are in S3 under ``snapshot_key``."""

    snapshot_key: str | None = None
    source: str | None = None
    total_metrics: int = 0
    metrics_with_data: int = 0
    missing_metrics: list[str] = Field(default_factory=list)
    values: dict[str, float] = Field(
        default_factory=dict, description="One representative value per query with data (seed §3.12)."
    )


class CriterionResult(Contract):
    metric: str
    operator: str
    threshold: str
    actual: float | None = None
    passed: bool | None = None


class StoreResultsInput(Contract):
    experiment: ExperimentRef
    spec: ExperimentSpec
    status: ExperimentStatus
    snapshot_key: str | None = None
    criteria: list[CriterionResult] = Field(default_factory=list)


class StoredResults(Contract):
    results_url: str
    summary_key: str
