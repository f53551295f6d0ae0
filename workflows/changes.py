"""The ``workflow.patched`` ids of ExperimentWorkflow, and which of them a run follows.

Each id names one change of the commands the workflow issues. A run decides all of them once, before
its first command: a run started before a change replays without its marker and keeps the old shape
to its end. A new run records only the newest id, which stands for every change before it too: each
``patched`` call costs the run a marker and a ``TemporalChangeVersion`` upsert (two events and a
visibility write), so recording all five would cost ten events where two do. A run without the
newest marker decides the earlier ids one by one, as it did when it started.
tests/workflow/test_replay.py replays histories of every shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

MANUAL_ENDS_ON_REQUEST = "manual-ends-on-request"
"""Manual mode: a complete request ends the run while the Argo workflow still runs, resuming its suspend steps."""
COMPLETE_AFTER_RESULTS = "complete-after-results"
"""Phase Complete only once summary.json is stored; storing keeps its own budget after the quality gate."""
TERMINAL_STAYS_TERMINAL = "terminal-phases-stay-terminal"
"""A failed analysis or an unanswered review is a condition; it no longer turns Complete into Failed."""
GATE_BUDGET_AT_VALIDATION = "gate-budget-at-validation"
"""A quality gate whose re-collect waits cannot fit the results deadline is InvalidSpec, before any spend."""
STATUS_WAITS_FOR_HUB_CALLS = "status-waits-for-hub-calls"
"""A status report waits for the short hub API call in flight (validate, claim, submit) and carries its change
too. The newest id: a run that records it follows every change above as well, without their markers."""


@dataclass(frozen=True)
class Changes:
    manual_ends_on_request: bool
    complete_after_results: bool
    terminal_stays_terminal: bool
    gate_budget_at_validation: bool
    status_waits_for_hub_calls: bool

    @staticmethod
    def decide() -> Changes:
        """Call once, first thing in the run (a new run records one marker, the newest id's)."""
        if workflow.patched(STATUS_WAITS_FOR_HUB_CALLS):
            return Changes(True, True, True, True, True)
        return Changes(
            manual_ends_on_request=workflow.patched(MANUAL_ENDS_ON_REQUEST),
            complete_after_results=workflow.patched(COMPLETE_AFTER_RESULTS),
            terminal_stays_terminal=workflow.patched(TERMINAL_STAYS_TERMINAL),
            gate_budget_at_validation=workflow.patched(GATE_BUDGET_AT_VALIDATION),
            status_waits_for_hub_calls=False,
        )
