"""Judgement on an experiment's data: the hypothesis verdict and the quality gate. Pure.

Imported by the workflow (deciding the gate and the verdict it reports) and by the results activities
(the verdict written into summary.json), so both sides judge with the same rules. No I/O, no clocks,
no randomness: the workflow sandbox runs it.

- Machine verdict on the hypothesis' success criteria (seed §3.12, with bug 27 fixed).
- The quality gate (seed §3.10): is there enough metric data, else re-collect, bounded. Fix of seed
  bug 20: a re-collection that yields no metrics counts as a failed iteration instead of being
  skipped, so the gate always ends after ``maxIterations + 1`` evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from activities.results.contracts import CriterionResult, MetricsCollection
from api.base import format_duration
from api.experiment import ExperimentSpec, HypothesisSpec, HypothesisVerdict, IterationPhase, Operator, QualityResult

STORE_RESULTS_RESERVE = timedelta(minutes=5)
"""What storing summary.json may always take, however long metric collection and the quality gate ran
(the gate's waits must leave it, checked at validation); capped by the results deadline itself."""

_COMPARE = {
    Operator.LT: lambda a, b: a < b,
    Operator.LTE: lambda a, b: a <= b,
    Operator.GT: lambda a, b: a > b,
    Operator.GTE: lambda a, b: a >= b,
}
_SYMBOL = {Operator.LT: "<", Operator.LTE: "<=", Operator.GT: ">", Operator.GTE: ">="}


@dataclass(frozen=True)
class Verdict:
    verdict: HypothesisVerdict | None
    criteria: list[CriterionResult]
    message: str


def evaluate(hypothesis: HypothesisSpec | None, values: Mapping[str, float]) -> Verdict:
    """No criteria → no verdict (the AI decides). Any failed criterion → invalidated; all passed →
    validated; otherwise (some without data or unparsable thresholds) → insufficient."""
    criteria = (hypothesis.success_criteria if hypothesis else None) or []
    if not criteria:
        return Verdict(None, [], "no success criteria")
    results: list[CriterionResult] = []
    lines: list[str] = []
    for c in criteria:
        op = Operator(c.operator)
        actual = values.get(c.metric)
        result = CriterionResult(metric=c.metric, operator=op.value, threshold=c.value, actual=actual)
        try:
            threshold = float(c.value)
        except ValueError:
            lines.append(f"{c.metric}: threshold {c.value!r} is not a number")
            results.append(result)
            continue
        if actual is None:
            lines.append(f"{c.metric}: no data (want {_SYMBOL[op]} {c.value})")
        else:
            result.passed = bool(_COMPARE[op](actual, threshold))
            mark = "passed" if result.passed else "failed"
            lines.append(f"{c.metric}: {actual:g} {_SYMBOL[op]} {c.value} {mark}")
        results.append(result)
    outcomes = [r.passed for r in results]
    if any(p is False for p in outcomes):
        verdict = HypothesisVerdict.INVALIDATED
    elif outcomes and all(p is True for p in outcomes):
        verdict = HypothesisVerdict.VALIDATED
    else:
        verdict = HypothesisVerdict.INSUFFICIENT
    return Verdict(verdict, results, "; ".join(lines))


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
