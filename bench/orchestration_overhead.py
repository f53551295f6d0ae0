"""Orchestration overhead: hello-app in the lab with every simulated external delay at zero.

Wall time from creating the Experiment (what ``kubectl create -f`` does) to the Experiment's
phase Complete, as a watch sees it; the runs go one after another and the median is reported. With
the external world instantaneous, what is left is our pipeline: gateway watch → StartWorkflow →
activities (apply claim, wait Ready, apply Applications, wait Healthy, submit the Argo Workflow, wait
Succeeded) → status reports → gateway status writes, plus the simulator's reaction to each external
step (a watch event, as a real controller's).

The original operator requeued every 10–15 s while waiting (seed-behaviour §2.10): clusters not
ready 10 s, apps 15 s, workflow running 15 s — even with an instantaneous cloud its floor is tens of
seconds.

    .venv/bin/python -m bench.orchestration_overhead [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.common import ZERO_DELAYS, PhaseLog, Watcher, create_all, header, hello_app, lab, load, table

PHASES = ("Provisioning", "Ready", "Running", "Complete")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.orchestration_overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="experiments, one after another (default 10)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on one run after this many s")
    parser.add_argument("--keep", action="store_true", help="keep the lab folder")
    args = parser.parse_args(argv)
    header("Orchestration overhead (hello-app, zero simulated delays)", "python -m bench." + " ".join(sys.argv[1:]))
    rows: list[list[object]] = []
    totals: list[float] = []
    with lab(ZERO_DELAYS, keep=args.keep) as state:
        log = PhaseLog()
        watcher = Watcher(state, "experiments.illm.io", "v1alpha1", "experiments", log.handle)
        watcher.start()
        watcher.synced.wait(30)
        try:
            for run in range(1, args.runs + 1):
                name = f"overhead-{run:03d}"
                created = create_all(state, [hello_app(name)])[name]
                ok = log.wait([name], ["Complete", "Failed"], args.timeout, tick=30)
                reached = log.reached.get(name, {})
                if not ok or "Complete" not in reached:
                    rows.append([run, *("-" for _ in PHASES), f"not Complete: {sorted(reached)}", load()])
                    continue
                since = [reached[p] - created if p in reached else float("nan") for p in PHASES]
                totals.append(since[-1])
                rows.append([run, *since, "Complete", load()])
                time.sleep(0.5)  # let the cleanup of this run settle before the next one starts
        finally:
            watcher.stop()
    table(["run", *(f"to {p} (s)" for p in PHASES), "outcome", "load 1/5/15"], rows)
    if not totals:
        print("summary: no run reached Complete")
        return 1
    median = statistics.median(totals)
    print(
        f"summary: create → Complete median {median:.2f} s over {len(totals)}/{args.runs} runs "
        f"(min {min(totals):.2f}, max {max(totals):.2f}); the original's requeue cadence alone is ≥ 40 s "
        f"(10 s clusters + 15 s apps + 15 s workflow)"
    )
    return 0 if len(totals) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
