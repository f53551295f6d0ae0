"""The quality gate (seed §3.10): is there enough metric data, else re-collect, bounded. Pure.

Fix of seed bug 20: a re-collection that yields no metrics counts as a failed iteration instead of
being skipped, so the gate always ends after ``maxIterations + 1`` evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from activities.contracts import MetricsCollection
from api.base import format_duration
from api.experiment import ExperimentSpec, HypothesisVerdict, IterationPhase, QualityResult
from workflows.policies import STORE_RESULTS_RESERVE

DEFAULT_MIN_COVERAGE = 0.5
DEFAULT_MAX_ITERATIONS = 3
DEFAULT_RECOLLECT_DELAY = timedelta(seconds=120)


def applies(spec: ExperimentSpec) -> bool:
    """Only published experiments; an explicit gate when enabled, else whenever custom metrics exist."""
    if not spec.publish:
        return False
    if spec.quality_gate is not None:
        return spec.quality_gate.enabled
    return bool(spec.metrics)


def max_iterations(spec: ExperimentSpec) -> int:
    return spec.quality_gate.max_iterations if spec.quality_gate else DEFAULT_MAX_ITERATIONS


def recollect_delay(spec: ExperimentSpec) -> timedelta:
    gate = spec.quality_gate
    return timedelta(seconds=gate.recollect_delay_seconds) if gate else DEFAULT_RECOLLECT_DELAY


def budget_problem(spec: ExperimentSpec) -> str | None:
    """The gate's re-collect waits must fit the results deadline and still leave storing its reserve."""
    if not applies(spec):
        return None
    iterations, delay, deadline = max_iterations(spec), recollect_delay(spec), spec.deadline("results")
    waits = iterations * delay
    if waits + STORE_RESULTS_RESERVE <= deadline:
        return None
    room = max(deadline - STORE_RESULTS_RESERVE, timedelta(0))
    return (
        f"spec.qualityGate: maxIterations {iterations} x recollectDelaySeconds {int(delay.total_seconds())} = "
        f"{format_duration(waits)} of waiting does not fit the results deadline {format_duration(deadline)}, "
        f"which must also keep {format_duration(STORE_RESULTS_RESERVE)} for storing the results "
        f"(fix: set recollectDelaySeconds to at most {int(room.total_seconds()) // iterations}, "
        f"or spec.deadlines.results to at least {format_duration(waits + STORE_RESULTS_RESERVE)})"
    )


@dataclass(frozen=True)
class GateDecision:
    phase: IterationPhase
    result: QualityResult


def decide(
    spec: ExperimentSpec, iteration: int, metrics: MetricsCollection, verdict: HypothesisVerdict | None
) -> GateDecision:
    gate = spec.quality_gate
    minimum = gate.min_data_coverage if gate and gate.min_data_coverage is not None else DEFAULT_MIN_COVERAGE
    total = metrics.total_metrics
    coverage = metrics.metrics_with_data / total if total else 0.0
    passed = total > 0 and coverage >= minimum
    remedy: str | None = None
    if total == 0:
        remedy = "no metrics were collected; check the metrics agent and the queries"
    elif not passed:
        remedy = f"coverage {coverage:.2f} below {minimum:.2f}; missing: {', '.join(metrics.missing_metrics)}"
    elif verdict == HypothesisVerdict.INSUFFICIENT:
        passed = False
        remedy = "success criteria have no data; re-collecting with a shorter window"
    result = QualityResult(
        iteration=iteration,
        total_metrics=total,
        metrics_with_data=metrics.metrics_with_data,
        coverage=round(coverage, 4),
        missing_metrics=metrics.missing_metrics or None,
        passed=passed,
        remedy=remedy,
    )
    if passed:
        return GateDecision(IterationPhase.PASSED, result)
    if iteration < max_iterations(spec):
        return GateDecision(IterationPhase.RECOLLECTING, result)
    return GateDecision(IterationPhase.EXHAUSTED, result)
