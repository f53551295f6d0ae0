"""Results site: time to build it for N synthetic runs (default 1,000) from a ``site/data`` folder, and to
bring it up to date when 1 and then 10 more runs land (what ``labctl site serve`` does per rebuild).

Each synthetic run looks like a published comparison: two targets, four range metrics of 60 points
per target and two instant ones, per-metric statistics, a hypothesis with two criteria, a cost
estimate, and an analysis on every third run; runs are spread over ``--series`` series. The time
covers reading and parsing every summary and writing every page (index, run pages with their SVG
charts, series pages, comparison data), measured in this process as CPU seconds and wall time; it is
printed, never asserted. The rebuilds reuse the same ``Site`` and source, as the server does: they read
only the new summaries and render only the files whose inputs changed.

    .venv/bin/python -m bench.site_build [--runs 1000] [--series 10]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import header, load, table
from labctl.site.build import BuiltSite, Site
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


def measured(build: Callable[[], BuiltSite]) -> tuple[BuiltSite, float, float]:
    """The build, its CPU seconds (this process, all threads) and its wall seconds."""
    cpu, wall = time.process_time(), time.monotonic()
    built = build()
    return built, time.process_time() - cpu, time.monotonic() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--series", type=int, default=10)
    args = parser.parse_args()
    header(f"Results site build, {args.runs} runs, then 1 and 10 more", "bench.site_build")
    rng = random.Random(17)
    work = Path(tempfile.mkdtemp(prefix="site-bench-"))
    try:
        data = work / "data"
        data.mkdir()

        def land(count: int) -> None:
            first = sum(1 for _ in data.iterdir())
            for i in range(first, first + count):
                summary = synthetic_summary(i, args.series, rng)
                (data / f"{summary['name']}.json").write_text(json.dumps(summary))

        land(args.runs)
        input_mib = sum(p.stat().st_size for p in data.iterdir()) / (1 << 20)
        source, site = FolderSummaries(data), Site(work / "site")
        rows = []
        for what, landing in ((f"full, {args.runs} runs", 0), ("1 run landed", 1), ("10 runs landed", 10)):
            land(landing)
            built, cpu, wall = measured(lambda: site.build(source))
            rows.append([what, built.runs, built.series, built.written, built.removed, cpu, wall, load()])
        pages = sum(1 for _ in (work / "site").rglob("*.html"))
        site_mib = sum(p.stat().st_size for p in (work / "site").rglob("*") if p.is_file()) / (1 << 20)
        table(["build", "runs", "series", "files written", "removed", "CPU s", "wall s", "load after"], rows)
        full, one, ten = rows
        print(
            f"summary: {full[1]} runs ({input_mib:.1f} MiB of summaries, {pages} pages, {site_mib:.1f} MiB of site) "
            f"built in {full[5]:.1f} CPU-s / {full[6]:.1f} s; +1 run {one[5]:.2f} CPU-s / {one[6]:.2f} s; "
            f"+10 runs {ten[5]:.2f} CPU-s / {ten[6]:.2f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
