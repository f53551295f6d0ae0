"""Machine verdict on the hypothesis' success criteria (seed §3.12, with bug 27 fixed). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from activities.contracts import CriterionResult
from api.experiment import HypothesisSpec, HypothesisVerdict, Operator

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
