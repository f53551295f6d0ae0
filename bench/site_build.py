"""Results site: time to build it for N synthetic runs (default 1,000) from a ``site/data`` folder.

Each synthetic run looks like a published comparison: two targets, four range metrics of 60 points
per target and two instant ones, per-metric statistics, a hypothesis with two criteria, a cost
estimate, and an analysis on every third run; runs are spread over ``--series`` series. The time
covers reading and parsing every summary and writing every page (index, run pages with their SVG
charts, series pages, comparison data), measured in this process; it is printed, never asserted.

    .venv/bin/python -m bench.site_build [--runs 1000] [--series 10]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import header, load, table
from labctl.site.build import build_site
from labctl.site.runs import FolderSummaries

RANGE_METRICS = {"cpu_total": "cores", "memory_total": "bytes", "ingest_rate": "samples/s", "query_p99": "seconds"}
INSTANT_METRICS = {"disk_bytes": "bytes", "restarts": ""}
TARGETS = ("prometheus", "victoria-metrics")
VERDICTS = ("validated", "invalidated", "insufficient")


def synthetic_summary(index: int, series_count: int, rng: random.Random) -> dict[str, Any]:
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=index * 3)
    name = f"tsdb-comparison-{index:05d}"
    queries: dict[str, Any] = {}
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for metric, unit in {**RANGE_METRICS, **INSTANT_METRICS}.items():
        points = 60 if metric in RANGE_METRICS else 1
        data = []
        for target in TARGETS:
            base = rng.uniform(0.5, 2.0) * (1 << 28 if unit == "bytes" else 1)
            values = [base * rng.uniform(0.9, 1.1) for _ in range(points)]
            data += [
                {"labels": {"target": target}, "timestamp": _iso(created + timedelta(seconds=15 * i)), "value": v}
                for i, v in enumerate(values)
            ]
            mean = sum(values) / points
            stats.setdefault(metric, {})[target] = {
                "count": points, "min": min(values), "max": max(values), "mean": mean, "last": values[-1]
            }  # fmt: skip
        queries[metric] = {
            "query": f"sum({metric})",
            "type": "range" if metric in RANGE_METRICS else "instant",
            "unit": unit,
            "description": metric.replace("_", " "),
            "data": data,
        }
    summary: dict[str, Any] = {
        "name": name,
        "title": f"Prometheus vs VictoriaMetrics #{index}",
        "namespace": "experiments",
        "uid": f"uid-{index:05d}",
        "description": "synthetic run for the site benchmark",
        "createdAt": _iso(created),
        "completedAt": _iso(created + timedelta(minutes=30)),
        "durationSeconds": 1800.0,
        "phase": "Complete",
        "tags": ["comparison", "observability", f"batch-{index % 7}"],
        "series": f"series-{index % series_count}",
        "hypothesis": {
            "claim": "VictoriaMetrics uses less memory for the same series",
            "successCriteria": [
                {"metric": "memory_total", "operator": "lt", "value": "1e9", "outcome": "passed", "passed": True},
                {"metric": "query_p99", "operator": "lt", "value": "1.5", "outcome": "failed", "passed": False},
            ],
            "machineVerdict": VERDICTS[index % len(VERDICTS)],
        },
        "targets": [{"name": t, "clusterType": "gke", "machineType": "e2-standard-4", "nodeCount": 1} for t in TARGETS],
        "metrics": {"timeRange": {"start": _iso(created), "end": _iso(created), "stepSeconds": 15}, "queries": queries},
        "metricStatistics": stats,
        "costEstimate": {"totalUSD": rng.uniform(0.05, 0.5), "durationHours": 0.5, "breakdown": {}, "note": "rough"},
    }
    if index % 3 == 0:
        summary["analysis"] = {"abstract": "VictoriaMetrics used less memory.", "aiGenerated": False}
    return summary


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--series", type=int, default=10)
    args = parser.parse_args()
    header(f"Results site build, {args.runs} runs", "bench.site_build")
    rng = random.Random(17)
    work = Path(tempfile.mkdtemp(prefix="site-bench-"))
    try:
        data = work / "data"
        data.mkdir()
        for i in range(args.runs):
            summary = synthetic_summary(i, args.series, rng)
            (data / f"{summary['name']}.json").write_text(json.dumps(summary))
        input_mib = sum(p.stat().st_size for p in data.iterdir()) / (1 << 20)
        began = time.monotonic()
        built = build_site(FolderSummaries(data), work / "site")
        seconds = time.monotonic() - began
        pages = sum(1 for _ in built.root.rglob("*.html"))
        site_mib = sum(p.stat().st_size for p in built.root.rglob("*") if p.is_file()) / (1 << 20)
        table(
            ["runs", "series", "input MiB", "pages", "site MiB", "build s", "ms per run", "load after"],
            [[built.runs, built.series, input_mib, pages, site_mib, seconds, 1000 * seconds / built.runs, load()]],
        )
        print(f"summary: {built.runs} runs built in {seconds:.1f} s ({pages} pages)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
