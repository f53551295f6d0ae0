"""The quality gate over what COLLECT_METRICS reports: bounded even when a collection returns nothing."""

from __future__ import annotations

from activities.results import judgement
from activities.results.contracts import MetricsCollection
from api.experiment import IterationPhase
from tests.results.conftest import comparison_spec


def test_empty_collections_exhaust_the_gate_after_max_iterations_plus_one() -> None:
    spec = comparison_spec(qualityGate={"maxIterations": 2})
    empty = MetricsCollection()  # what collect_metrics returns when the window is too short or nothing answered
    phases = []
    for iteration in range(10):
        verdict = judgement.evaluate(spec.hypothesis, empty.values)
        decision = judgement.decide(spec, iteration, empty, verdict.verdict)
        phases.append(decision.phase)
        if decision.phase != IterationPhase.RECOLLECTING:
            break
    assert phases == [IterationPhase.RECOLLECTING, IterationPhase.RECOLLECTING, IterationPhase.EXHAUSTED]


def test_coverage_counts_metrics_with_data_on_any_target() -> None:
    spec = comparison_spec()
    half = MetricsCollection(
        total_metrics=2, metrics_with_data=1, missing_metrics=["latency_p99"], values={"request_rate": 120.0}
    )
    verdict = judgement.evaluate(spec.hypothesis, half.values)
    decision = judgement.decide(spec, 0, half, verdict.verdict)
    assert decision.result.coverage == 0.5
    assert decision.phase == IterationPhase.RECOLLECTING  # coverage passes, but a criterion has no data
