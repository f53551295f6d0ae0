"""LifecycleProgress: what a run still owes (results, cleanup), decided by the stage it reached."""

from __future__ import annotations

from workflows.progress import Cleanup, LifecycleProgress, Stage


def test_the_stage_reached_only_moves_forward() -> None:
    progress = LifecycleProgress()
    progress.reach(Stage.RUN_SUCCEEDED)
    progress.reach(Stage.AWAITING_COMPLETION)  # the old manual shape waits after the Argo workflow succeeded
    assert progress.stage == Stage.RUN_SUCCEEDED
    assert progress.reached(Stage.AWAITING_COMPLETION) and progress.reached(Stage.RUNNING)


def test_nothing_is_owed_when_validation_fails() -> None:
    progress = LifecycleProgress()
    assert not progress.cleanup_owed and not progress.results_owed


def test_cleanup_is_owed_once_provisioning_started_until_done_even_while_retained() -> None:
    progress = LifecycleProgress()
    progress.reach(Stage.PROVISIONING)
    assert progress.cleanup_owed
    progress.cleanup = Cleanup.RETAINED
    assert progress.cleanup_owed
    progress.cleanup = Cleanup.DONE
    assert not progress.cleanup_owed


def test_results_are_owed_once_the_argo_workflow_was_submitted_until_summary_json_is_stored() -> None:
    progress = LifecycleProgress()
    progress.reach(Stage.DEPLOYING)
    assert not progress.results_owed
    progress.reach(Stage.RUNNING)
    assert progress.results_owed
    progress.summary_key = "experiments/hello-app-x1/summary.json"
    assert not progress.results_owed
