"""The analysis without Claude: verdict, key numbers and biggest differences, computed from summary.json.

Used when no ``ANTHROPIC_API_KEY`` is configured so every experiment still gets an abstract. Marked
``aiGenerated: false`` and says so in its text: a reader must never mistake it for a model's judgement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activities.results.html_report import key_numbers

NOT_AI = "Computed summary — not AI-written."


def biggest_differences(stats: dict[str, dict[str, dict[str, float]]], limit: int = 3) -> list[str]:
    """Metrics whose mean differs most (relatively) between the best and worst target."""
    rows = []
    for metric, targets in stats.items():
        if len(targets) < 2:
            continue
        ranked = sorted(targets.items(), key=lambda item: item[1]["mean"])
        (low_name, low), (high_name, high) = ranked[0], ranked[-1]
        base = abs(low["mean"]) or 1e-12
        ratio = (high["mean"] - low["mean"]) / base
        rows.append((ratio, f"{metric}: {high_name} {high['mean']:.4g} vs {low_name} {low['mean']:.4g} (+{ratio:.0%})"))
    return [text for _, text in sorted(rows, reverse=True)[:limit]]


def computed_analysis(summary: dict[str, Any]) -> dict[str, Any]:
    hypothesis = summary.get("hypothesis") or {}
    verdict = hypothesis.get("machineVerdict")
    sentences = [NOT_AI]
    if verdict:
        sentences.append(f"Machine verdict: {verdict} ({hypothesis.get('verdictMessage', '')}).")
    elif hypothesis:
        sentences.append("No success criteria were given, so there is no machine verdict.")
    numbers = key_numbers(summary)
    if numbers:
        sentences.append("Key numbers: " + "; ".join(numbers) + ".")
    differences = biggest_differences(summary.get("metricStatistics") or {})
    if differences:
        sentences.append("Biggest differences between targets: " + "; ".join(differences) + ".")
    cost = summary.get("costEstimate") or {}
    if cost:
        sentences.append(f"Estimated cost ${cost.get('totalUSD', 0):.4f} over {cost.get('durationHours', 0):.2f} h.")
    if len(sentences) == 1:
        sentences.append("No metrics were collected.")
    abstract = " ".join(sentences)
    return {
        "abstract": abstract,
        "summary": abstract,
        "hypothesisVerdict": verdict,
        "keyNumbers": numbers,
        "biggestDifferences": differences,
        "generatedAt": datetime.now(UTC).isoformat(),
        "model": None,
        "aiGenerated": False,
    }
