"""Summaries for the site tests, in today's format, and writing them as a ``site/data`` folder does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def summary(name: str, created: str, values: dict[str, dict[str, float]], **extra: Any) -> dict[str, Any]:
    """A current-format summary: ``values`` is metric → target → value (instant queries)."""
    queries = {
        metric: {
            "query": f"sum({metric})",
            "type": "instant",
            "unit": "bytes" if metric.startswith("memory") else "cores",
            "data": [{"labels": {"target": t}, "timestamp": created, "value": v} for t, v in by_target.items()],
        }
        for metric, by_target in values.items()
    }
    stats = {
        metric: {t: {"count": 1, "min": v, "max": v, "mean": v, "last": v} for t, v in by_target.items()}
        for metric, by_target in values.items()
    }
    targets = sorted({t for by_target in values.values() for t in by_target})
    return {
        "name": name,
        "namespace": "experiments",
        "uid": f"uid-{name}",
        "title": f"Title of {name}",
        "createdAt": created,
        "phase": "Complete",
        "tags": ["comparison"],
        "series": "observability-backends",
        "hypothesis": {"claim": f"claim of {name}", "machineVerdict": "validated", "successCriteria": []},
        "targets": [{"name": t, "clusterType": "hub"} for t in targets],
        "metrics": {"queries": queries},
        "metricStatistics": stats,
        "costEstimate": {"totalUSD": 0.25, "durationHours": 0.1, "breakdown": {}, "note": "rough"},
        **extra,
    }


def write(folder: Path, name: str, document: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(document))
