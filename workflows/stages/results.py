"""Results: collect the metrics, run the quality gate (re-collect while data is missing), judge the
hypothesis and store summary.json in S3; then phase Complete.

Results are collected once the Argo workflow was submitted, on success and on failure alike. With
the ``complete-after-results`` patch the phase turns Complete only once summary.json is stored.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.lifecycle import Lifecycle

with workflow.unsafe.imports_passed_through():
    from activities.results import judgement
    from activities.results.contracts import (
        COLLECT_METRICS,
        STORE_RESULTS,
        CollectMetricsInput,
        MetricsCollection,
        StoredResults,
        StoreResultsInput,
    )
    from activities.results.judgement import STORE_RESULTS_RESERVE
    from api.base import format_duration
    from api.experiment import ConditionStatus, ExperimentPhase, HypothesisVerdict, IterationPhase, IterationStatus
    from workflows import policies
    from workflows.status import HYPOTHESIS, QUALITY_GATE


async def complete_with_results(life: Lifecycle, reason: str, message: str, gate: bool) -> None:
    """Phase Complete; with the results-first shape only once summary.json is stored (or Failed if it cannot be)."""
    collect = life.progress.results_owed
    if not life.changes.complete_after_results:
        life.enter(ExperimentPhase.COMPLETE, reason, message)
        if collect:
            await collect_and_store(life, gate=gate)
        return
    if collect:
        life.ready(ConditionStatus.UNKNOWN, "CollectingResults", "collecting metrics and storing the results")
        await collect_and_store(life, gate=gate)
    if not life.book.finished():
        life.enter(ExperimentPhase.COMPLETE, reason, message)


async def collect_and_store(life: Lifecycle, gate: bool) -> None:
    """Metrics (again while the quality gate asks for it), the hypothesis verdict, then summary.json.

    A failure here fails the experiment (unless it already failed) but ends no other stage.
    """
    spec = life.spec
    budget = PhaseBudget("results", spec.deadline("results"))
    cluster_names = {t.name: t.cluster_name for t in life.book.status.targets or [] if t.cluster_name}
    gated = gate and judgement.applies(spec) and life.book.phase != ExperimentPhase.FAILED
    iteration = 0
    try:
        while True:
            metrics = await call(
                COLLECT_METRICS,
                CollectMetricsInput(
                    experiment=life.experiment, spec=spec, cluster_names=cluster_names, iteration=iteration
                ),
                MetricsCollection,
                policies.cloud_call(spec.deadline("results")),
                budget,
                "metrics collection",
            )
            verdict = judgement.evaluate(spec.hypothesis, metrics.values)
            if not gated or not await _quality_gate(life, iteration, metrics, verdict.verdict):
                break
            iteration += 1
        _record_verdict(life, verdict)
        ending = ExperimentPhase.FAILED if life.book.phase == ExperimentPhase.FAILED else ExperimentPhase.COMPLETE
        left = budget.remaining()
        stored = await call(
            STORE_RESULTS,
            StoreResultsInput(
                experiment=life.experiment,
                spec=spec,
                status=life.book.as_if(ending, workflow.now()),
                snapshot_key=metrics.snapshot_key,
                criteria=verdict.criteria,
            ),
            StoredResults,
            policies.slow_call(max(left, _store_reserve(life)) if life.changes.complete_after_results else left),
            budget,
            "results to be stored in S3",
        )
    except ExperimentFailed as failure:
        life.fail(failure.reason, failure.message)
        return
    life.progress.summary_key = stored.summary_key
    life.book.update(results_url=stored.results_url)


async def _quality_gate(
    life: Lifecycle, iteration: int, metrics: MetricsCollection, verdict: HypothesisVerdict | None
) -> bool:
    """Record one evaluation; True when the caller should re-collect."""
    spec = life.spec
    decision = judgement.decide(spec, iteration, metrics, verdict)
    previous = life.book.status.iteration_status
    results = [*((previous.quality_results or []) if previous else []), decision.result]
    life.book.update(
        iteration_status=IterationStatus(
            current_iteration=iteration,
            max_iterations=judgement.max_iterations(spec),
            phase=decision.phase,
            quality_results=results,
        )
    )
    remedy = decision.result.remedy or ""
    if decision.phase == IterationPhase.PASSED:
        life.condition(QUALITY_GATE, ConditionStatus.TRUE, "Passed", f"coverage {decision.result.coverage:.2f}")
        return False
    if decision.phase == IterationPhase.EXHAUSTED:
        text = f"quality gate exhausted after {iteration + 1} evaluations: {remedy}"
        life.condition(QUALITY_GATE, ConditionStatus.FALSE, "Exhausted", text)
        life.fail("QualityGateExhausted", text)
        return False
    delay = judgement.recollect_delay(spec)
    life.condition(
        QUALITY_GATE,
        ConditionStatus.FALSE,
        "Recollecting",
        f"iteration {iteration + 1}: {remedy}; re-collecting in {format_duration(delay)}",
    )
    await workflow.sleep(delay)
    return True


def _record_verdict(life: Lifecycle, verdict: judgement.Verdict) -> None:
    if verdict.verdict is None:
        return
    life.book.update(hypothesis_result=verdict.verdict)
    state = ConditionStatus.TRUE if verdict.verdict == HypothesisVerdict.VALIDATED else ConditionStatus.FALSE
    life.condition(HYPOTHESIS, state, verdict.verdict.capitalize(), verdict.message)


def _store_reserve(life: Lifecycle) -> timedelta:
    """What storing the results may always take: the reserve, or the whole results deadline if shorter."""
    return min(STORE_RESULTS_RESERVE, life.spec.deadline("results"))
