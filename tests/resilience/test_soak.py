"""The soak of issue 15: many publishing hello-app Experiments at once while the lab's parts are killed.

``SOAK_EXPERIMENTS`` (200) Experiments are created together, each publishing its results and approved
in advance (the review annotation is set at creation; the workflow applies it when its gate opens).
While they run, the worker is SIGKILLed every 30 s and the gateway every 45 s, each started again at
once as a supervisor would; the Temporal dev server is stopped and started once (same SQLite file:
the number of ExperimentWorkflows it knows must not drop) and the kube-apiserver once (same etcd).

At the end: every Experiment is Complete, cleaned up and its PR merged; one claim ever per target
(a watch logs every claim ADDED); one workflow run per Experiment; nothing labelled with any of
them left on the hub; no workflow with an activity still pending; one PR per Experiment; one
``summary.json`` per Experiment, under its own uid's prefix. It prints the wall time, the recovery
after each fault (see ``soak.report``), completions over time, time to Complete and the load.

    make soak                                   # 200 Experiments
    SOAK_EXPERIMENTS=20 SOAK_DURATION=120s SOAK_TEMPORAL_AT=40 SOAK_APISERVER_AT=70 make soak  # a quick try

Opt-in: skipped unless selected with ``-m soak`` (tests/resilience/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, defaultdict

import pytest
from temporalio.client import Client

from api.experiment import REVIEW_ANNOTATION
from api.names import RESULTS_BUCKET, publish_branch
from bench.common import Watcher, create_all, load, machine
from tests.fixtures.eventually import eventually
from tests.resilience.conftest import RESTARTING, RESULTS_REPO, ResilienceLab, status_summary
from tests.resilience.soak import Faults, ProgressLog, report, succeeded
from worker.codec import PayloadKeySettings, data_converter

EXPERIMENTS = int(os.environ.get("SOAK_EXPERIMENTS", "200"))
DURATION = os.environ.get("SOAK_DURATION", "20s")
"""The Argo run of each (halved by the lab's time scale), so that kills land in every stage."""
TIMEOUT = float(os.environ.get("SOAK_TIMEOUT", "2400"))
WORKER_EVERY, GATEWAY_EVERY = 30.0, 45.0
TEMPORAL_AT = float(os.environ.get("SOAK_TEMPORAL_AT", "100"))
APISERVER_AT = float(os.environ.get("SOAK_APISERVER_AT", "200"))
"""Seconds after the first create; both must fall while Experiments are still unfinished."""


def body(lab: ResilienceLab, name: str) -> dict[str, object]:
    experiment = lab.experiment_body("soak", duration=DURATION)
    experiment["metadata"] = {"name": name, "namespace": "experiments", "annotations": {REVIEW_ANNOTATION: "approved"}}
    experiment["spec"]["publish"] = True
    return experiment


async def _runs_and_pending(lab: ResilienceLab, ids: dict[str, str]) -> tuple[Counter[str], dict[str, int]]:
    """Runs per workflow id (visibility) and, for each Experiment whose workflow has any, its pending activities."""
    converter = data_converter(PayloadKeySettings(experiment_payload_keys=lab.state.payload_keys()))
    temporal = await Client.connect(f"127.0.0.1:{lab.state.ports['temporal']}", data_converter=converter)
    runs: Counter[str] = Counter()
    async for execution in temporal.list_workflows("WorkflowType = 'ExperimentWorkflow'"):
        runs[execution.id] += 1
    pending = {}
    for name, wid in ids.items():
        description = await temporal.get_workflow_handle(wid).describe()
        if description.raw_description.pending_activities:
            pending[name] = len(description.raw_description.pending_activities)
    return runs, pending


def summaries(lab: ResilienceLab) -> dict[str, list[str]]:
    """Experiment name → every summary.json key under its name in the results bucket."""
    found: dict[str, list[str]] = defaultdict(list)
    for page in lab.s3().get_paginator("list_objects_v2").paginate(Bucket=RESULTS_BUCKET, Prefix="experiments/"):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if key.endswith("/summary.json"):
                found[key.split("/")[1]].append(key)
    return found


@pytest.mark.soak
def test_soak_every_experiment_completes_once_under_repeated_kills_and_restarts(lab: ResilienceLab) -> None:
    names = [f"soak-{i:04d}" for i in range(EXPERIMENTS)]
    log = ProgressLog(set(names))
    watcher = Watcher(lab.state, "experiments.illm.io", "v1alpha1", "experiments", log.handle)
    watcher.start()
    try:
        assert watcher.synced.wait(60)
        problems = run(lab, names, log)
        finished = [n for n in names if n in log.done and succeeded(log.last[n])]
        problems += check_the_end(lab, names, finished, log)
    finally:
        watcher.stop()
    assert not problems, "\n".join(problems[:40])


def run(lab: ResilienceLab, names: list[str], log: ProgressLog) -> list[str]:
    """Create every Experiment, inject the faults until all are done; print the figures; what went wrong."""
    print(f"\nsoak: {len(names)} Experiments; machine: {machine()}; load at start {load()}", flush=True)
    t0 = time.monotonic()
    created = create_all(lab.state, [body(lab, name) for name in names])
    print(f"created in {time.monotonic() - t0:.0f} s", flush=True)
    faults = Faults(lab, log, t0, WORKER_EVERY, GATEWAY_EVERY, TEMPORAL_AT, APISERVER_AT)
    faults.start()
    next_line = [t0]

    def tick() -> None:
        now = time.monotonic()
        if now - next_line[0] >= 30:
            next_line[0] = now
            faults.sample_load()
            print(
                f"  {now - t0:5.0f} s: {len(log.complete)} Complete, {len(log.done)} done, "
                f"{len(faults.happened)} faults, load {load()}",
                flush=True,
            )

    try:
        all_done = log.wait_all_done(TIMEOUT, tick)
    finally:
        faults.stopping.set()
        faults.join(timeout=180)
    ended = max(log.done.values(), default=time.monotonic())
    print("\n".join(report(log, faults, created, ended)), flush=True)

    problems: list[str] = [f"fault injection: {error}" for error in faults.errors]
    unfinished = [n for n in names if n not in log.done]
    failed = [n for n in log.done if not succeeded(log.last[n])]
    if not all_done:
        problems.append(f"{len(unfinished)} not done after {TIMEOUT:.0f} s, e.g. {unfinished[:5]}")
    problems += [f"{n}: {status_summary(log.last.get(n, {}))}" for n in (unfinished + failed)[:10]]
    kinds = Counter(f.what for f in faults.happened)
    for what in ("worker kill -9", "crd-gateway kill -9", "temporal restart", "kube-apiserver restart"):
        if not any(f.what == what and f.unfinished for f in faults.happened):
            problems.append(f"no {what} while Experiments were unfinished ({kinds[what]} in all)")
    return problems


def check_the_end(lab: ResilienceLab, names: list[str], finished: list[str], log: ProgressLog) -> list[str]:
    """Never a second claim for a target; for each finished Experiment: one claim ever, nothing left on the
    hub or pending in Temporal, one workflow run, one PR (merged), one summary.json."""
    problems = []
    for name in names:
        claims = lab.claims.created(name)
        if len(claims) > 1 or any(len(uids) != 1 for uids in claims.values()) or (name in finished and not claims):
            problems.append(f"{name}: claims ever created {claims}")
    try:
        eventually(lambda: not lab.leftovers_of(set(finished)), 120, "nothing left on the hub", tolerate=RESTARTING)
    except AssertionError:
        left = lab.leftovers_of(set(finished))
        problems.append(f"left on the hub for {len(left)} Experiments, e.g. {list(left.items())[:3]}")
    runs, pending = asyncio.run(_runs_and_pending(lab, {n: lab.workflow_id(n) for n in finished}))
    problems += [f"workflow {wid}: {count} runs" for wid, count in runs.items() if count > 1]
    problems += [f"{n}: {count} activities still pending" for n, count in pending.items()]
    pulls = lab.github.repos[RESULTS_REPO].pulls.values()
    opened, merged = Counter(pr.head for pr in pulls), {pr.head for pr in pulls if pr.merged}
    for name in finished:
        branch = publish_branch(name)
        if opened[branch] != 1 or branch not in merged:
            problems.append(f"{name}: {opened[branch]} PRs, merged: {branch in merged}")
    stored = summaries(lab)
    for name in finished:
        own = log.last[name]["resultsURL"].removeprefix(f"s3://{RESULTS_BUCKET}/") + "summary.json"
        if stored.get(name) != [own]:
            problems.append(f"{name}: summary.json keys {stored.get(name)}, expected [{own}]")
    print(
        f"checked for {len(finished)} finished: one claim ever, nothing left, one workflow run and nothing pending, "
        f"one PR merged, one summary.json; {len(problems)} problems",
        flush=True,
    )
    return problems
