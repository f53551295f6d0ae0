"""Scale: N hello-app Experiments created at once on this machine, every simulated delay at zero.

For each N (a fresh lab each): create all N (16 API calls in flight), wait until every one is
Complete or Failed (``--timeout`` per size), then for their cleanup (``status.resourcesCleaned``;
the workflows themselves stay open until the Experiment's TTL) and report

- how many reached Complete, total wall time (first create → last Complete), per-experiment p50/max;
- what the idle lab costs per second (``--idle`` s before the first create: CPU and API requests;
  the watches of every process and the simulator's agents and resyncs go on even then);
- what the run cost (``bench.cost``), total and per experiment, between a sample just before the
  first create and one after the cleanup: CPU seconds of every lab process (gateway, worker,
  simulator, Temporal, kube-apiserver, etcd, kube-controller-manager and the rest), their peak RSS
  (``VmHWM``), API-server requests by verb and resource (the API server's own
  ``apiserver_request_total``; this script's creates and its one Experiment watch are in it too),
  and Temporal history events, workflow tasks and activity tasks per ExperimentWorkflow (counted
  in the histories);
- status write latency from the gateway's ``crd_gateway_status_write_seconds`` histogram (mean, and
  p50/p99 interpolated inside its buckets) and how many writes needed a conflict retry.

``--json PATH`` writes every figure for later comparison; ``--compare BASELINE.json`` prints
after/before ratios of the per-experiment figures against such a file (same N).
A size that does not finish in time is reported as such (how many reached which phase) and the
next size still runs.

    .venv/bin/python -m bench.scale --experiments 100 300 500 [--timeout 900] [--json run.json]
    .venv/bin/python -m bench.scale --experiments 20            # a quick check
    .venv/bin/python -m bench.scale --experiments 50 --compare bench/baselines/scale-50.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.audit import attribute, workload_namespaces
from bench.common import (
    CLEANED,
    ZERO_DELAYS,
    PhaseLog,
    Watcher,
    audit_log,
    create_all,
    gateway_counter,
    gateway_histogram,
    header,
    hello_app,
    lab,
    list_experiments,
    load,
    machine,
    percentile,
    service_pids,
    table,
)
from bench.cost import TASK_EVENTS, apiserver_requests, cpu_seconds, peak_rss_mib, ratios, temporal_histories

TOP_REQUESTS = 20
"""API request kinds (verb + resource) shown in the table; the JSON has all of them."""


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    row: dict[str, Any] = {"N": n}
    with lab(ZERO_DELAYS, keep=args.keep, audit=args.audit) as state:
        log = PhaseLog()
        watcher = Watcher(state, "experiments.illm.io", "v1alpha1", "experiments", log.handle)
        watcher.start()
        watcher.synced.wait(30)
        names = [f"scale-{i:04d}" for i in range(n)]
        pids = service_pids(state)
        cpu_before, requests_before = cpu_seconds(pids), apiserver_requests(state)
        if args.idle:  # what the lab costs doing nothing, per second
            time.sleep(args.idle)
            cpu_idle, requests_idle = cpu_seconds(pids), apiserver_requests(state)
            row["idle cpu (s/s)"] = {s: (cpu_idle[s] - cpu_before[s]) / args.idle for s in cpu_before if s in cpu_idle}
            row["idle api requests (/s)"] = {k: v / args.idle for k, v in (requests_idle - requests_before).items()}
            cpu_before, requests_before = cpu_idle, requests_idle
        began, began_utc = time.monotonic(), datetime.now(UTC)
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
            row["measured (s)"] = time.monotonic() - began
            cpu_after, requests_after = cpu_seconds(pids), apiserver_requests(state)
            row["cpu (s)"] = {s: cpu_after[s] - cpu_before[s] for s in cpu_before if s in cpu_after}
            row["restarted"] = sorted(set(cpu_before) - set(cpu_after))
            row["peak RSS (MiB)"] = {service: peak_rss_mib(pid) for service, pid in pids.items()}
            row["api requests"] = dict((requests_after - requests_before).most_common())
            if args.audit:
                experiments = list_experiments(state)
                workloads = workload_namespaces(experiments)
                row["api requests by source"] = attribute(audit_log(state), began_utc, datetime.now(UTC), workloads)
            row["histories"] = temporal_histories(state)
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


def per_experiment(row: Mapping[str, Any]) -> dict[str, float]:
    """The run's cost figures divided by N, flat (``cpu <service>``, ``api <verb resource>``,
    ``temporal <figure>``), as compared between runs."""
    n = row["N"]
    flat: dict[str, float] = {}
    cpu: dict[str, float] = row.get("cpu (s)", {})
    if cpu:
        flat["cpu all processes"] = sum(cpu.values()) / n
    flat |= {f"cpu {service}": seconds / n for service, seconds in sorted(cpu.items(), key=lambda i: -i[1])}
    requests: dict[str, int] = row.get("api requests", {})
    if requests:
        flat["api all requests"] = sum(requests.values()) / n
    flat |= {f"api {kind}": count / n for kind, count in requests.items()}
    sources: dict[str, dict[str, int]] = row.get("api requests by source", {})
    flat |= {f"api source {source}": sum(kinds.values()) / n for source, kinds in sources.items()}
    histories: dict[str, dict[str, int]] = row.get("histories", {})
    for figure in TASK_EVENTS:
        values = [counts[figure] for counts in histories.values()]
        if values:
            flat[f"temporal {figure}"] = statistics.fmean(values)
    return flat


def print_costs(row: Mapping[str, Any]) -> None:
    n = row["N"]
    cpu: dict[str, float] = row["cpu (s)"]
    rss: dict[str, float] = row["peak RSS (MiB)"]
    total = sum(cpu.values())
    print(f"### N={n}: cost per process (over {row['measured (s)']:.0f} s, first create → cleanup done)\n")
    idle: dict[str, float] = row.get("idle cpu (s/s)", {})
    lines: list[list[object]] = []
    for service, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        share, nan = 100 * seconds / total if total else 0.0, float("nan")
        lines.append([service, seconds, seconds / n, share, rss.get(service, nan), idle.get(service, nan)])
    lines.append(["all processes", total, total / n, 100.0, sum(rss.values()), sum(idle.values()) if idle else "-"])
    table(["process", "CPU (s)", "CPU s / experiment", "share (%)", "peak RSS (MiB)", "idle CPU (s/s)"], lines)
    requests: dict[str, int] = row["api requests"]
    every = sum(requests.values())
    print(f"### N={n}: API-server requests ({every} in all, {every / n:.1f} per experiment; top {TOP_REQUESTS})\n")
    idle_requests: dict[str, float] = row.get("idle api requests (/s)", {})
    top = list(requests.items())[:TOP_REQUESTS]
    table(
        ["verb resource", "requests", "per experiment", "share (%)", "idle (/s)"],
        [
            [kind, count, count / n, 100 * count / every if every else 0.0, idle_requests.get(kind, 0.0)]
            for kind, count in top
        ],
    )
    histories: dict[str, dict[str, int]] = row["histories"]
    print(f"### N={n}: Temporal, per ExperimentWorkflow ({len(histories)} histories)\n")
    lines = []
    for figure in TASK_EVENTS:
        values = [counts[figure] for counts in histories.values()]
        if values:
            lines.append([figure, statistics.fmean(values), statistics.median(values), max(values), sum(values)])
    table(["figure", "mean", "median", "max", "total"], lines)
    if "api requests by source" in row:
        print_sources(n, row["api requests by source"])


def print_sources(n: int, sources: Mapping[str, Mapping[str, int]]) -> None:
    """Requests per experiment by who made them, and each source's largest kinds."""
    print(f"### N={n}: API-server requests by source (audit log; bench.audit)\n")
    lines: list[list[object]] = []
    for source, kinds in sources.items():
        top = ", ".join(f"{kind} {count / n:.1f}" for kind, count in list(kinds.items())[:8])
        lines.append([source, sum(kinds.values()) / n, top])
    table(["source", "per experiment", "largest kinds (per experiment)"], lines)


def print_comparison(rows: list[dict[str, Any]], baseline: Mapping[str, Any]) -> None:
    """after/before of the per-experiment figures, for each N the baseline also has."""
    before_rows = {r["N"]: r for r in baseline["sizes"] if "error" not in r}
    for row in rows:
        before = before_rows.get(row["N"])
        if before is None or "error" in row:
            print(f"# no baseline figures for N={row['N']}")
            continue
        old, new = per_experiment(before), per_experiment(row)
        change = ratios(old, {k: new.get(k, 0.0) for k in old})  # a request kind no longer made: 0
        keys = [k for k in old if not k.startswith("api ")]
        keys += [k for k in sorted(old, key=lambda k: -old[k]) if k.startswith("api ")][: TOP_REQUESTS + 1]
        keys += [k for k in sorted(new, key=lambda k: -new[k]) if k not in old][:TOP_REQUESTS]  # new kinds
        print(f"### N={row['N']}: per experiment, this run against {baseline.get('when', 'the baseline')}\n")
        table(
            ["figure", "baseline", "now", "now / baseline"],
            [[k, old.get(k, 0.0), new.get(k, 0.0), change.get(k, float("inf"))] for k in keys],
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, nargs="+", default=[100], help="sizes to run (default 100)")
    parser.add_argument("--timeout", type=float, default=900.0, help="s to wait for one size to finish (900)")
    parser.add_argument("--close-timeout", type=float, default=120.0, help="s to wait for cleanup afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the lab folders")
    parser.add_argument("--idle", type=float, default=20.0, help="s to measure the idle lab first (20; 0: skip)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--compare", type=Path, help="print after/before ratios against a --json file")
    parser.add_argument(
        "--audit", action="store_true", help="API server audit log on: requests by who made them (bench.audit)"
    )
    args = parser.parse_args(argv)
    baseline = json.loads(args.compare.read_text()) if args.compare else None
    header("Scale (concurrent hello-app experiments, zero simulated delays)", "bench.scale")
    started, load_at_start = datetime.now(UTC).isoformat(timespec="seconds"), load()
    rows = []
    for n in args.experiments:
        try:
            rows.append(run_size(n, args))
        except Exception as exc:  # report and go on with the next size
            rows.append({"N": n, "error": f"{type(exc).__name__}: {exc}"[:200]})
        print(f"# N={n}: {summary_of(rows[-1], args.timeout)}", flush=True)
    outcome = ["N", "Complete", "Failed", "unfinished", "create (s)", "wall (s)", "each p50 (s)", "each max (s)"]
    outcome.append("load")
    table(outcome, [[r.get(k, "-") for k in outcome] for r in rows])
    for row in rows:
        if "cpu (s)" in row:
            print_costs(row)
    writes = ["N", "cleaned", "status writes", "write mean (ms)", "write p50 (ms)", "write p99 (ms)"]
    writes.append("conflict retries")
    table(writes, [[r.get(k, "-") for k in writes] for r in rows])
    if baseline is not None:
        print_comparison(rows, baseline)
    if args.json:
        record = {
            "command": " ".join(["python -m bench.scale", *sys.argv[1:]]),
            "machine": machine(),
            "when": started,
            "load at start": load_at_start,
            "sizes": [row | ({"per experiment": per_experiment(row)} if "cpu (s)" in row else {}) for row in rows],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
        print(f"# figures written to {args.json}")
    print("summary: " + "; ".join(summary_of(r, args.timeout) for r in rows))
    return 0 if all(r.get("Complete") == r["N"] for r in rows) else 1


def summary_of(row: Mapping[str, Any], timeout: float) -> str:
    if "error" in row:
        return f"{row['N']}: error {row['error']}"
    wall = row["wall (s)"]
    text = f"{row['N']}: {row['Complete']}/{row['N']} Complete"
    text += f" in {wall:.0f} s" if isinstance(wall, float) else ""
    text += f", {row['Failed']} Failed" if row["Failed"] else ""
    text += f", {row['unfinished']} unfinished at the {timeout:.0f} s timeout" if row["unfinished"] else ""
    flat = per_experiment(row)
    if "cpu all processes" in flat:
        text += f"; per experiment {flat['cpu all processes']:.2f} CPU-s"
        text += f", {flat.get('api all requests', 0):.0f} API requests"
        text += f", {flat.get('temporal events', 0):.0f} history events"
        text += f", {flat.get('temporal workflow tasks completed', 0):.0f} workflow tasks"
    return text


if __name__ == "__main__":
    sys.exit(main())
