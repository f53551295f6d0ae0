"""Metrics: 50 range queries over a 1-hour window, bounded-parallel vs sequential, as a ratio.

Starts only VictoriaMetrics (the hub's metrics store, the same binary and flags as the lab's, cache
disabled) in a temporary folder, imports one hour of synthetic cAdvisor-style series (``--pods`` pods
× 3 containers, a CPU counter and a memory gauge, one sample every 15 s, labelled with 10 experiment
names), then runs the same 50 range queries — the four default hub queries of
``activities.results.metrics_collection.default_queries`` over the 10 experiments, plus 10 ``quantile_over_time`` ones —
through the product's ``PromQLClient``: once with ``parallelism=1`` (sequential) and once with the
platform's ``METRICS_PARALLELISM`` default (4) and with ``--parallelism``, interleaved ``--rounds``
times in the same process; the medians and their ratio are printed. Step: the product's rule for a
1-hour window (``activities.results.metrics_collection.time_window``), or ``--step``.

VictoriaMetrics on loopback answers one of these queries in a few milliseconds, so locally the
client's own work dominates and parallelism has little to win on 2 cores. A target's Prometheus is
reached over the network through its API server's service proxy; ``--rtt-ms`` adds that round trip
(an ``asyncio.sleep`` in the HTTP transport before each request: latency, no CPU) and every mode is
measured at each RTT given (default 0 and 20 ms).

    .venv/bin/python -m bench.metrics_parallelism [--rounds 5] [--parallelism 4 8]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from activities.results.metrics_collection import default_queries, resolve, time_window
from activities.results.metrics_snapshot import TimeWindow
from activities.results.promql_client import PromQLClient, ResolvedQuery
from activities.settings import ResultsSettings
from api.experiment import MetricType
from bench.common import header, load, table
from labctl.servers import start_victoria_metrics
from labctl.settings import ServerBinaries
from labctl.supervisor import free_port

EXPERIMENTS = [f"bench-exp-{i}" for i in range(10)]
CONTAINERS = ("app", "sidecar", "init-helper")


def synthetic_hour(end: datetime, pods: int) -> str:
    """Prometheus text exposition with timestamps: one hour of CPU counters and memory gauges."""
    rng = random.Random(7)
    lines: list[str] = []
    start_ms = int((end - timedelta(hours=1)).timestamp() * 1000)
    for p in range(pods):
        experiment = EXPERIMENTS[p % len(EXPERIMENTS)]
        for container in CONTAINERS:
            labels = f'experiment="{experiment}",namespace="{experiment}",pod="pod-{p}",container="{container}"'
            cpu, rate = 0.0, rng.uniform(0.01, 0.5)
            base = rng.uniform(50e6, 500e6)
            for k in range(241):
                at = start_ms + k * 15_000
                cpu += rate * 15 * rng.uniform(0.8, 1.2)
                memory = base * (1 + 0.1 * math.sin(k / 20))
                lines.append(f"container_cpu_usage_seconds_total{{{labels}}} {cpu:.3f} {at}")
                lines.append(f"container_memory_working_set_bytes{{{labels}}} {memory:.0f} {at}")
    return "\n".join(lines) + "\n"


def queries() -> list[ResolvedQuery]:
    out: list[ResolvedQuery] = []
    for experiment in EXPERIMENTS:
        variables = {"EXPERIMENT": experiment, "NAMESPACE": "experiments", "DURATION": "1h"}
        out += resolve(default_queries(True), variables)
        out.append(
            ResolvedQuery(
                f"{experiment}-p95-memory",
                f'quantile_over_time(0.95, container_memory_working_set_bytes{{experiment="{experiment}"}}[5m])',
                MetricType.RANGE,
            )
        )
    return [ResolvedQuery(f"{i:02d}-{q.name}", q.promql, q.type) for i, q in enumerate(out)]


class DelayedTransport(httpx.AsyncHTTPTransport):
    """Adds a network round trip to every request (sleeps; costs no CPU)."""

    def __init__(self, rtt: float) -> None:
        super().__init__()
        self.rtt = rtt

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.rtt:
            await asyncio.sleep(self.rtt)
        return await super().handle_async_request(request)


async def timed(
    base_url: str, window: TimeWindow, parallelism: int, items: list[ResolvedQuery], rtt: float
) -> tuple[float, int]:
    """Seconds to run every query through the product's client; and how many came back with data."""
    settings = ResultsSettings()
    async with httpx.AsyncClient(transport=DelayedTransport(rtt)) as http:
        client = PromQLClient(
            http,
            base_url,
            timeout=settings.metrics_query_timeout_seconds,
            attempts=settings.metrics_query_attempts,
            parallelism=parallelism,
        )
        began = time.perf_counter()
        results = await client.run_all(items, window, "hub")
        seconds = time.perf_counter() - began
    return seconds, sum(1 for r in results.values() if r.data and not r.error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.metrics_parallelism", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved repetitions of each mode (default 5)")
    parser.add_argument("--pods", type=int, default=200, help="synthetic pods (x3 containers, x2 metrics)")
    parser.add_argument("--parallelism", type=int, nargs="+", default=[4, 8], help="parallel modes (default 4 8)")
    parser.add_argument("--step", type=int, default=None, help="query step, s (default: the product's rule for 1 h)")
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 20.0], help="added round trips (0 20)")
    args = parser.parse_args(argv)
    header("Metrics: 50 range queries over 1 h, parallel vs sequential", "bench.metrics_parallelism")
    root = Path(tempfile.mkdtemp(prefix="bench-vm-"))
    port = free_port()
    vm = start_victoria_metrics(ServerBinaries(), root / "data", port, root / "victoria-metrics.log")
    base = f"http://127.0.0.1:{port}"
    try:
        end = datetime.now(UTC).replace(microsecond=0)
        body = synthetic_hour(end, args.pods)
        httpx.post(f"{base}/api/v1/import/prometheus", content=body.encode(), timeout=120).raise_for_status()
        httpx.get(f"{base}/internal/force_flush", timeout=30)
        time.sleep(2)
        window = time_window(end - timedelta(hours=1), end)
        assert window is not None
        if args.step:
            window = window.model_copy(update={"step_seconds": args.step})
        items = queries()
        modes = [1, *args.parallelism]
        seconds: dict[tuple[float, int], list[float]] = {(r, m): [] for r in args.rtt_ms for m in modes}
        answered: dict[tuple[float, int], int] = {}
        asyncio.run(timed(base, window, 1, items[:4], 0.0))  # warm up
        for _ in range(args.rounds):
            for key in seconds:
                took, with_data = asyncio.run(timed(base, window, key[1], items, key[0] / 1000))
                seconds[key].append(took)
                answered[key] = with_data
        end_load = load()
    finally:
        vm.stop()
        shutil.rmtree(root, ignore_errors=True)
    median = {key: statistics.median(values) for key, values in seconds.items()}
    rows = [
        [
            f"{rtt:g}",
            "sequential" if m == 1 else f"parallel ({m})",
            len(items),
            answered[(rtt, m)],
            median[(rtt, m)],
            min(seconds[(rtt, m)]),
            max(seconds[(rtt, m)]),
            median[(rtt, 1)] / median[(rtt, m)],
        ]
        for rtt, m in seconds
    ]
    table(["RTT (ms)", "mode", "queries", "with data", "median (s)", "min (s)", "max (s)", "speed-up"], rows)
    default = ResultsSettings().metrics_parallelism
    ratios = ", ".join(
        f"RTT {rtt:g} ms: sequential {median[(rtt, 1)]:.3f} s, parallel ({default}) {median[(rtt, default)]:.3f} s "
        f"= {median[(rtt, 1)] / median[(rtt, default)]:.2f}×"
        for rtt in args.rtt_ms
        if (rtt, default) in median
    )
    print(
        f"summary: {len(items)} range queries over 1 h (step {window.step_seconds} s, {args.pods * 3 * 2} series) — "
        f"{ratios}; {args.rounds} rounds interleaved, load at end {end_load}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
