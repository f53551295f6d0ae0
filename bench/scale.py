"""Scale: N hello-app Experiments created at once on this machine, every simulated delay at zero.

For each N (a fresh lab each): create all N (16 API calls in flight), wait until every one is
Complete or Failed (``--timeout`` per size), then for their cleanup (``status.resourcesCleaned``;
the workflows themselves stay open until the Experiment's TTL) and report

- how many reached Complete, total wall time (first create → last Complete), per-experiment p50/max;
- peak RSS (``VmHWM``) of the gateway and the worker, and of the simulator, Temporal and kube-apiserver
  for context;
- history events per ExperimentWorkflow (Temporal visibility ``HistoryLength``), median and max;
- status write latency from the gateway's ``crd_gateway_status_write_seconds`` histogram (mean, and
  p50/p99 interpolated inside its buckets) and how many writes needed a conflict retry.

A size that does not finish in time is reported as such (how many reached which phase) and the
next size still runs.

    .venv/bin/python -m bench.scale --experiments 100 300 500 [--timeout 900]
    .venv/bin/python -m bench.scale --experiments 20            # a quick check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.common import (
    CLEANED,
    ZERO_DELAYS,
    PhaseLog,
    Watcher,
    create_all,
    gateway_counter,
    gateway_histogram,
    header,
    hello_app,
    history_lengths,
    lab,
    load,
    percentile,
    rss_mib,
    service_pids,
    table,
)

SERVICES = ("gateway", "worker", "simulator", "temporal", "kube-apiserver")


def run_size(n: int, args: argparse.Namespace) -> dict[str, object]:
    row: dict[str, object] = {"N": n}
    with lab([*ZERO_DELAYS, "--poll-interval", str(args.sim_poll)], keep=args.keep) as state:
        log = PhaseLog()
        watcher = Watcher(state, "experiments.illm.io", "v1alpha1", "experiments", log.handle)
        watcher.start()
        watcher.synced.wait(30)
        names = [f"scale-{i:04d}" for i in range(n)]
        began = time.monotonic()
        try:
            created = create_all(state, [hello_app(name) for name in names])
            row["create (s)"] = time.monotonic() - began
            log.wait(names, ["Complete", "Failed"], args.timeout, tick=30)
            complete = [name for name in names if "Complete" in log.reached.get(name, {})]
            failed = [name for name in names if "Failed" in log.reached.get(name, {})]
            row["Complete"] = len(complete)
            row["Failed"] = len(failed)
            row["unfinished"] = n - len(complete) - len(failed)
            ends = [log.reached[name]["Complete"] for name in complete]
            row["wall (s)"] = max(ends) - began if ends else float("nan")
            each = [log.reached[name]["Complete"] - created[name] for name in complete]
            row["each p50 (s)"] = percentile(each, 50)
            row["each max (s)"] = max(each, default=float("nan"))
            row["load"] = load()
            cleaning = [name for name in complete + failed]
            log.wait(cleaning, [CLEANED], args.close_timeout, tick=30)
            row["cleaned"] = log.count(cleaning, [CLEANED])
            time.sleep(2)  # the workflows write their last status reports and settle until the TTL
            pids = service_pids(state)
            for service in SERVICES:
                row[f"{service} peak RSS (MiB)"] = rss_mib(pids[service])[1] if service in pids else float("nan")
            lengths = list(history_lengths(state).values())
            row["history median"] = statistics.median(lengths) if lengths else float("nan")
            row["history max"] = max(lengths, default=0)
            writes = gateway_histogram(state)
            row["status writes"] = int(writes.count)
            row["write mean (ms)"] = writes.mean * 1000
            row["write p50 (ms)"] = writes.quantile(0.5) * 1000
            row["write p99 (ms)"] = writes.quantile(0.99) * 1000
            outcomes = gateway_counter(state, "crd_gateway_status_writes_total")
            row["conflict retries"] = int(outcomes.get("result=conflict_retry", 0))
            if failed:
                print(f"# failed: {failed[:5]}{' …' if len(failed) > 5 else ''}", flush=True)
        finally:
            watcher.stop()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, nargs="+", default=[100], help="sizes to run (default 100)")
    parser.add_argument("--timeout", type=float, default=900.0, help="s to wait for one size to finish (900)")
    parser.add_argument("--close-timeout", type=float, default=120.0, help="s to wait for cleanup afterwards")
    parser.add_argument("--sim-poll", type=float, default=0.2, help="simulator poll interval, s (default 0.2)")
    parser.add_argument("--keep", action="store_true", help="keep the lab folders")
    args = parser.parse_args(argv)
    header("Scale (concurrent hello-app experiments, zero simulated delays)", "bench.scale")
    rows = []
    for n in args.experiments:
        try:
            rows.append(run_size(n, args))
        except Exception as exc:  # report and go on with the next size
            rows.append({"N": n, "error": f"{type(exc).__name__}: {exc}"[:200]})
        print(f"# N={n}: {rows[-1]}", flush=True)
    outcome = [
        "N",
        "Complete",
        "Failed",
        "unfinished",
        "create (s)",
        "wall (s)",
        "each p50 (s)",
        "each max (s)",
        "load",
    ]
    table(outcome, [[r.get(k, "-") for k in outcome] for r in rows])
    memory = ["N", *(f"{s} peak RSS (MiB)" for s in SERVICES)]
    table(memory, [[r.get(k, "-") for k in memory] for r in rows])
    temporal = ["N", "cleaned", "history median", "history max", "status writes", "write mean (ms)"]
    temporal += ["write p50 (ms)", "write p99 (ms)", "conflict retries"]
    table(temporal, [[r.get(k, "-") for k in temporal] for r in rows])
    parts = []
    for r in rows:
        if "error" in r:
            parts.append(f"{r['N']}: error {r['error']}")
        else:
            wall = r["wall (s)"]
            text = f"{r['N']}: {r['Complete']}/{r['N']} Complete"
            text += f" in {wall:.0f} s" if isinstance(wall, float) else ""
            text += f", {r['Failed']} Failed" if r["Failed"] else ""
            text += f", {r['unfinished']} unfinished at the {args.timeout:.0f} s timeout" if r["unfinished"] else ""
            parts.append(text)
    print("summary: " + "; ".join(parts))
    return 0 if all(r.get("Complete") == r["N"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
