"""The quality gate over what COLLECT_METRICS reports: bounded even when a collection returns nothing."""

from __future__ import annotations

from activities.contracts import MetricsCollection
from api.experiment import IterationPhase
from tests.results.conftest import comparison_spec
from workflows import hypothesis, quality_gate


def test_empty_collections_exhaust_the_gate_after_max_iterations_plus_one() -> None:
    spec = comparison_spec(qualityGate={"maxIterations": 2})
    empty = MetricsCollection()  # what collect_metrics returns when the window is too short or nothing answered
    phases = []
    for iteration in range(10):
        verdict = hypothesis.evaluate(spec.hypothesis, empty.values)
        decision = quality_gate.decide(spec, iteration, empty, verdict.verdict)
        phases.append(decision.phase)
        if decision.phase != IterationPhase.RECOLLECTING:
            break
    assert phases == [IterationPhase.RECOLLECTING, IterationPhase.RECOLLECTING, IterationPhase.EXHAUSTED]


def test_coverage_counts_metrics_with_data_on_any_target() -> None:
    spec = comparison_spec()
    half = MetricsCollection(
        total_metrics=2, metrics_with_data=1, missing_metrics=["latency_p99"], values={"request_rate": 120.0}
    )
    verdict = hypothesis.evaluate(spec.hypothesis, half.values)
    decision = quality_gate.decide(spec, 0, half, verdict.verdict)
    assert decision.result.coverage == 0.5
    assert decision.phase == IterationPhase.RECOLLECTING  # coverage passes, but a criterion has no data
