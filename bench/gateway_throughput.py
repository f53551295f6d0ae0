"""Gateway throughput: N Experiments created at once → time until all their workflows are started.

The Experiments are created 16 API calls at a time (as a burst of ``kubectl create``); the clock
starts before the first create. "Started" is what Temporal says: the number of ExperimentWorkflows
in its visibility store reaches N (polled every 0.25 s), and each workflow's ``StartTime`` gives the
per-Experiment create → started latency. The worker is stopped before the burst (default) so the
figure is the gateway's: watch → reconcile → StartWorkflow, against the lab's file-SQLite Temporal
dev server, on 2 cores shared with the apiserver and Temporal; ``--with-worker`` keeps it running
(the workflows then also run, competing for the same CPU).

    .venv/bin/python -m bench.gateway_throughput --experiments 1000 [--timeout 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from bench.common import (
    count_workflows,
    create_all,
    gateway_counter,
    header,
    hello_app,
    lab,
    load,
    percentile,
    rss_mib,
    service_pids,
    table,
)
from labctl.lab.state import LabState


def start_times(state: LabState) -> dict[str, float]:
    """Experiment name → workflow start time (Unix seconds), from Temporal visibility."""

    async def collect() -> dict[str, float]:
        from temporalio.client import Client

        temporal = await Client.connect(f"127.0.0.1:{state.ports['temporal']}")
        found: dict[str, float] = {}
        async for wf in temporal.list_workflows("WorkflowType = 'ExperimentWorkflow'"):
            name = wf.id.removeprefix("experiment-experiments-").rsplit("-", 5)[0]  # the uid has 5 parts
            found[name] = wf.start_time.timestamp()
        return found

    return asyncio.run(collect())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.gateway_throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=1000, help="Experiments in the burst (default 1000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="s to wait for all workflows (600)")
    parser.add_argument("--with-worker", action="store_true", help="leave the worker running during the burst")
    parser.add_argument("--keep", action="store_true", help="keep the lab folder")
    args = parser.parse_args(argv)
    header("Gateway throughput (burst of Experiments → workflows started)", "bench.gateway_throughput")
    n = args.experiments
    # A long provisioning delay: with --with-worker the experiments wait at the claim instead of finishing.
    with lab(["--provision-delay", "3600"], keep=args.keep) as state:
        pids = service_pids(state)
        if not args.with_worker:
            os.kill(pids["worker"], signal.SIGTERM)
            print(f"# worker (pid {pids['worker']}) stopped: measuring the gateway alone", flush=True)
            time.sleep(2)
        names = [f"burst-{i:04d}" for i in range(n)]
        wall0, began = time.time(), time.monotonic()
        created = create_all(state, [hello_app(name) for name in names])
        create_seconds = time.monotonic() - began
        print(f"# {n} created in {create_seconds:.1f} s; load {load()}", flush=True)
        started, deadline, next_tick = 0, began + args.timeout, began + 10
        while time.monotonic() < deadline:
            started = count_workflows(state)
            if started >= n:
                break
            if time.monotonic() >= next_tick:
                print(f"#   {started}/{n} workflows started after {time.monotonic() - began:.0f} s; load {load()}")
                next_tick += 10
            time.sleep(0.25)
        all_seconds = time.monotonic() - began
        end_load = load()
        starts = start_times(state)
        created_wall = {name: wall0 + (at - began) for name, at in created.items()}
        each = [starts[name] - created_wall[name] for name in names if name in starts]
        last = max(starts.values(), default=wall0) - wall0
        gateway_rss = rss_mib(pids["gateway"])[1]
        outcomes = gateway_counter(state, "crd_gateway_workflow_starts_total")
        reconciles = gateway_counter(state, "crd_gateway_reconciles_total")
    table(
        [
            *("N", "created in (s)", "all started (s)", "last StartTime (s)", "workflows/s"),
            *("create→start p50 (s)", "p99 (s)", "gateway peak RSS (MiB)", "load at end"),
        ],
        [
            [
                n,
                create_seconds,
                all_seconds if started >= n else f"timeout ({started}/{n})",
                last,
                len(starts) / last if last > 0 else float("nan"),
                percentile(each, 50),
                percentile(each, 99),
                gateway_rss,
                end_load,
            ]
        ],
    )
    print(f"# gateway workflow starts: {outcomes}; reconciles: {reconciles}")
    print(
        f"summary: {len(starts)}/{n} workflows started {last:.1f} s after the first create "
        f"({len(starts) / last if last > 0 else 0:.1f}/s; creating them took {create_seconds:.1f} s); "
        f"worker {'running' if args.with_worker else 'stopped'}"
    )
    return 0 if len(starts) >= n else 1


if __name__ == "__main__":
    sys.exit(main())
