"""Record the committed ExperimentWorkflow histories that tests/workflow/test_replay.py replays.

Run ``python -m tests.workflow.record_histories [SCENARIO ...]`` from the repository root. It starts
the Java time-skipping test server, runs the scenarios against the fake lab (tests/workflow/fakes.py)
and writes ``tests/histories/<scenario>.json`` (``WorkflowHandle.fetch_history().to_json()``). Without
arguments it records only the scenarios that have no committed file yet.

Recorded before the ``workflows/changes.py`` patches (the old shape, kept to prove old runs replay):

- ``workflow_mode``   hello-app, the Argo workflow succeeds, cleanup, done;
- ``manual_mode``     manual completion: waits, then the ``complete`` update ends it;
- ``failure_cleanup`` one of two clusters is rejected: Failed, both cleaned up;
- ``ttl``             a manual experiment nobody completes, ended at its 7-day TTL and deleted.

Recorded with the first four patches of ``workflows/changes.py``, each with its marker:

- ``results_first``          hello-app: Complete only after summary.json is stored;
- ``manual_inline``          the inline ``experiment-lifecycle`` suspended; ``complete`` resumes and ends it;
- ``analysis_failed``        published, the analysis fails: a condition, the phase stays Complete;
- ``gate_budget_invalid``    a quality gate that cannot fit the results deadline: InvalidSpec, nothing claimed.
- ``gate_recollect``         the quality gate re-collects twice (timers), passes; approved early, the PR is merged;
- ``manual_ttl``             a manual experiment nobody completes: Complete at its 7-day TTL, cleaned up, deleted;
- ``cancel_in_review``       the Experiment is deleted while the review is pending: PR closed, Cancelled.

Recorded with ``status-waits-for-hub-calls``, the newest id, whose one marker stands for every change
(a report also waits for the hub call in flight):

- ``status_after_hub_calls`` hello-app: Pending and Provisioning go out in one report with the claimed
  cluster, Deployed with Running; 7 reports where ``results_first`` has 10.

The committed files are the contract with every workflow already running in production: a change
to the workflow code (workflows/experiment.py, workflows/stages/ and what they call) that issues
different commands (another activity, a timer, another order) must keep replaying them, i.e. it
must branch with ``workflow.patched("<change-id>")`` (and later ``workflow.deprecate_patch``)
instead of changing the old path. Never re-record a committed file for such a change: add
scenarios of the new shape next to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.fixtures.process import find_binary
from tests.workflow.conftest import MANUAL, Run, running, spec
from tests.workflow.fakes import FakeLab
from worker.app import register_search_attributes
from workflows.experiment import ExperimentWorkflow
from workflows.messages import CompleteRequest, ReviewDecision, ReviewRequest

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
TWO_TARGETS = [
    {"name": "app", "cluster": {"type": "gke"}, "components": [{"app": "hello-app"}]},
    {"name": "loadgen", "cluster": {"type": "gke"}, "components": [{"app": "k6"}], "depends": ["app"]},
]


async def _finish(run: Run) -> None:
    await run.result()


async def _complete_by_update(run: Run) -> None:
    await run.until(lambda s: (ready := s.condition("Ready")) is not None and ready.reason == "AwaitingCompletion")
    await run.handle.execute_update(ExperimentWorkflow.complete, CompleteRequest(requested_by="recorder"))
    await run.result()


async def _approve_early(run: Run) -> None:
    await run.handle.execute_update(
        ExperimentWorkflow.review, ReviewRequest(decision=ReviewDecision.APPROVE, reviewer="recorder")
    )
    await run.result()


async def _cancel_in_review(run: Run) -> None:
    await run.until(lambda s: s.review_phase == "Pending")
    await run.handle.cancel()
    with contextlib.suppress(WorkflowFailureError):
        await run.result()


INLINE_MANUAL = {"template": "experiment-lifecycle", "completion": {"mode": "manual"}}
DAY_LONG_GATE = {"enabled": True, "maxIterations": 3, "recollectDelaySeconds": 86400}
RECOLLECTING_GATE = {"enabled": True, "maxIterations": 2, "recollectDelaySeconds": 600}

SCENARIOS: dict[str, tuple[Callable[[], FakeLab], dict[str, object], Callable[[Run], Awaitable[None]]]] = {
    "workflow_mode": (FakeLab, {"ttl_days": 0}, _finish),
    "manual_mode": (FakeLab, {"ttl_days": 0, "workflow": MANUAL}, _complete_by_update),
    "failure_cleanup": (lambda: FakeLab(reject_clusters={"loadgen"}), {"ttl_days": 0, "targets": TWO_TARGETS}, _finish),
    "ttl": (FakeLab, {"ttl_days": 7, "workflow": MANUAL}, _finish),
    "results_first": (FakeLab, {"ttl_days": 0}, _finish),
    "manual_inline": (
        lambda: FakeLab(argo_suspends=True),
        {"ttl_days": 0, "workflow": INLINE_MANUAL},
        _complete_by_update,
    ),
    "analysis_failed": (lambda: FakeLab(analysis_succeeds=False), {"ttl_days": 0, "publish": True}, _approve_early),
    "gate_budget_invalid": (FakeLab, {"ttl_days": 0, "publish": True, "quality_gate": DAY_LONG_GATE}, _finish),
    "gate_recollect": (
        lambda: FakeLab(coverage=[(4, 1), (4, 1), (4, 4)]),
        {"ttl_days": 0, "publish": True, "quality_gate": RECOLLECTING_GATE},
        _approve_early,
    ),
    "manual_ttl": (FakeLab, {"ttl_days": 7, "workflow": MANUAL}, _finish),
    "cancel_in_review": (FakeLab, {"ttl_days": 0, "publish": True}, _cancel_in_review),
    "status_after_hub_calls": (FakeLab, {"ttl_days": 0}, _finish),
}


async def record(env: WorkflowEnvironment, scenarios: list[str], out: Path = HISTORIES) -> dict[str, int]:
    """Run these scenarios; write each history; return the event count of each."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for index, (scenario, (lab, overrides, drive)) in enumerate(SCENARIOS.items()):
        if scenario not in scenarios:
            continue
        uid = f"00000000-0000-4000-8000-{index:012d}"
        async with running(env, lab(), spec(**overrides), name=f"replay-{scenario.replace('_', '-')}", uid=uid) as run:
            await drive(run)
            history = await run.handle.fetch_history()
        (out / f"{scenario}.json").write_text(history.to_json() + "\n")
        counts[scenario] = len(history.events)
    return counts


async def main() -> None:
    unknown = sorted(set(sys.argv[1:]) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    scenarios = sys.argv[1:] or [s for s in SCENARIOS if not (HISTORIES / f"{s}.json").exists()]
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        await register_search_attributes(env.client)
        counts = await record(env, scenarios)
    finally:
        await env.shutdown()
    for scenario, events in counts.items():
        print(f"{HISTORIES / scenario}.json: {events} events", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
