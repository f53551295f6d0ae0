"""Record the committed ExperimentWorkflow histories that tests/workflow/test_replay.py replays.

Run ``python -m tests.workflow.record_histories`` from the repository root. It starts the Java
time-skipping test server, runs four scenarios against the fake lab (tests/workflow/fakes.py) and
writes ``tests/histories/<scenario>.json`` (``WorkflowHandle.fetch_history().to_json()``):

- ``workflow_mode``   hello-app, the Argo workflow succeeds, cleanup, done;
- ``manual_mode``     manual completion: waits, then the ``complete`` update ends it;
- ``failure_cleanup`` one of two clusters is rejected: Failed, both cleaned up;
- ``ttl``             a manual experiment nobody completes, ended at its 7-day TTL and deleted.

The committed files are the contract with every workflow already running in production: a change
to workflows/experiment.py that issues different commands (another activity, a timer, another
order) must keep replaying them, i.e. it must branch with ``workflow.patched("<change-id>")`` (and
later ``workflow.deprecate_patch``) instead of changing the old path. Re-record only for changes
that cannot affect a running workflow, and commit the new files with the change.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.fixtures.process import find_binary
from tests.workflow.conftest import MANUAL, Run, running, spec
from tests.workflow.fakes import FakeLab
from worker.app import register_search_attributes
from workflows.experiment import ExperimentWorkflow
from workflows.messages import CompleteRequest

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


SCENARIOS: dict[str, tuple[Callable[[], FakeLab], dict[str, object], Callable[[Run], Awaitable[None]]]] = {
    "workflow_mode": (FakeLab, {"ttl_days": 0}, _finish),
    "manual_mode": (FakeLab, {"ttl_days": 0, "workflow": MANUAL}, _complete_by_update),
    "failure_cleanup": (lambda: FakeLab(reject_clusters={"loadgen"}), {"ttl_days": 0, "targets": TWO_TARGETS}, _finish),
    "ttl": (FakeLab, {"ttl_days": 7, "workflow": MANUAL}, _finish),
}


async def record(env: WorkflowEnvironment, out: Path = HISTORIES) -> dict[str, int]:
    """Run every scenario; write its history; return the event count of each."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for index, (scenario, (lab, overrides, drive)) in enumerate(SCENARIOS.items()):
        uid = f"00000000-0000-4000-8000-{index:012d}"
        async with running(env, lab(), spec(**overrides), name=f"replay-{scenario.replace('_', '-')}", uid=uid) as run:
            await drive(run)
            history = await run.handle.fetch_history()
        (out / f"{scenario}.json").write_text(history.to_json() + "\n")
        counts[scenario] = len(history.events)
    return counts


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server", "TEMPORAL_TEST_SERVER"),
        data_converter=pydantic_data_converter,
    )
    try:
        await register_search_attributes(env.client)
        counts = await record(env)
    finally:
        await env.shutdown()
    for scenario, events in counts.items():
        print(f"{HISTORIES / scenario}.json: {events} events", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
