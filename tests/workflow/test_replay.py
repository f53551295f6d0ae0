"""The committed histories (tests/histories/*.json) replay against today's ExperimentWorkflow.

A failure here means a change would break workflows already running: guard the new behaviour with
``workflow.patched("<change-id>")`` instead (see tests/workflow/record_histories.py, which also
says when and how to re-record). The Replayer runs the full workflow sandbox, which screens the code
of workflows/ for clocks, randomness and I/O; the worker passes that package through (worker/app.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflow.record_histories import HISTORIES, SCENARIOS
from workflows import changes
from workflows.experiment import ExperimentWorkflow
from workflows.messages import ExperimentInput

pytestmark = pytest.mark.asyncio(loop_scope="session")


def committed(scenario: str) -> WorkflowHistory:
    path = HISTORIES / f"{scenario}.json"
    return WorkflowHistory.from_json(f"replay-{scenario}", path.read_text())


async def test_every_scenario_has_a_committed_history() -> None:
    assert sorted(p.stem for p in Path(HISTORIES).glob("*.json")) == sorted(SCENARIOS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_committed_history_replays(scenario: str) -> None:
    replayer = Replayer(workflows=[ExperimentWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(committed(scenario))
    assert result.replay_failure is None


OLD_SHAPE = ["failure_cleanup", "manual_mode", "ttl", "workflow_mode"]
"""Recorded before workflows/changes.py: they prove runs started then still replay (each patch False)."""
FIRST_PATCHES = [
    changes.MANUAL_ENDS_ON_REQUEST,
    changes.COMPLETE_AFTER_RESULTS,
    changes.TERMINAL_STAYS_TERMINAL,
    changes.GATE_BUDGET_AT_VALIDATION,
]
"""The markers of the scenarios recorded between: every change but status-waits-for-hub-calls."""
CURRENT_SHAPE = ["status_after_hub_calls"]
"""Recorded with the newest id only, which stands for every change (workflows/changes.py)."""


def expected_markers(scenario: str) -> list[str]:
    if scenario in OLD_SHAPE:
        return []
    return [changes.STATUS_WAITS_FOR_HUB_CALLS] if scenario in CURRENT_SHAPE else FIRST_PATCHES


def patch_markers(history: WorkflowHistory) -> list[str]:
    return [
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_every_shape_is_covered_old_runs_without_markers_new_runs_with_every_one(scenario: str) -> None:
    assert patch_markers(committed(scenario)) == expected_markers(scenario)


@workflow.defn(name="ExperimentWorkflow", sandboxed=False)
class ChangedExperimentWorkflow:
    """Same name, different first command (a timer where the original upserts and validates)."""

    @workflow.run
    async def run(self, inp: ExperimentInput) -> None:
        await workflow.sleep(60)


async def test_replay_catches_a_changed_workflow() -> None:
    replayer = Replayer(workflows=[ChangedExperimentWorkflow], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(committed("workflow_mode"))
