"""SeaweedFS down during the results step: retried until it is back; down for good, Failed and clean.

Each run's Argo Workflow lasts 8 s (16 s at the lab's time scale) so that SeaweedFS is surely stopped (up
to 5 s) before the results step begins; with 2 s the results were sometimes stored before the outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.resilience.conftest import ResilienceLab, condition, storing_results


def _results_deadline(value: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["spec"]["deadlines"] = {"results": value}

    return change


def test_seaweedfs_staying_down_fails_the_experiment_with_a_clear_condition_and_cleans_up(lab: ResilienceLab) -> None:
    assert lab.stack.seaweedfs is not None
    name = lab.create("s3-down", duration="16s", change=_results_deadline("40s"))
    lab.wait_for(name, lambda s: s.get("phase") == "Running", 60, "Running")
    with lab.stack.seaweedfs.down():
        began = time.monotonic()
        # storing summary.json keeps min(5 min, the results deadline) = 40 s, whatever collection left it
        failed = lab.wait_final(name, "Failed", timeout=40 + 180)
        print(f"\nFailed and cleaned {time.monotonic() - began:.1f} s into the outage (store reserve 40 s)")

    ready = condition(failed, "Ready")
    assert ready["reason"] == "ResultsFailed" and "results to be stored in S3" in ready["message"], ready
    assert "unavailable" in ready["message"], ready
    assert failed["resourcesCleaned"] is True, condition(failed, "Cleanup")
    lab.assert_nothing_left(name)


def test_results_are_stored_once_seaweedfs_is_back_after_an_outage(lab: ResilienceLab) -> None:
    assert lab.stack.seaweedfs is not None
    name = lab.create("s3-back", duration="16s")
    lab.wait_for(name, lambda s: s.get("phase") == "Running", 60, "Running")
    with lab.stack.seaweedfs.down():
        lab.wait_for(name, storing_results, 60, "storing")
        time.sleep(30)
    began = time.monotonic()

    stored = lab.wait_final(name, "Complete", timeout=120)
    print(f"\nresults stored and cleaned {time.monotonic() - began:.1f} s after SeaweedFS was back")
    assert stored["resultsURL"] == lab.results_url(name)
    assert stored["resourcesCleaned"] is True
    lab.assert_nothing_left(name)
