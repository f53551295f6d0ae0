"""kill -9 of the worker while one experiment provisions, one runs its Argo workflow and one stores results.

One kill covers the three stages at once: an activity in flight on a dead worker is only retried after its
heartbeat or start-to-close timeout (2 min), so three separate kills would cost three times that. SeaweedFS
is stopped before the kill so the results stage is reliably in flight; it is back before the worker is.
"""

from __future__ import annotations

import time

from tests.fixtures.eventually import eventually
from tests.resilience.conftest import RESTARTING, ResilienceLab, storing_results


def test_worker_killed_during_provisioning_argo_run_and_results_completes_each_with_one_claim_ever(
    lab: ResilienceLab,
) -> None:
    assert lab.stack.seaweedfs is not None
    running = lab.create("kill-run", duration="60s")  # 30 s of Argo run at the lab's time scale
    # 8 s of Argo run: SeaweedFS (stopping takes up to 5 s) is down before its results step begins
    results = lab.create("kill-results", duration="16s")
    lab.wait_for(running, lambda s: s.get("phase") == "Running", 60, "Running")
    lab.wait_for(results, lambda s: s.get("phase") == "Running", 60, "Running")
    lab.stack.seaweedfs.stop()
    try:
        lab.wait_for(results, storing_results, 30, "storing results")
        # Created only now: the claim is Ready 10 s after creation, and waiting for the results stage
        # first could outlast that on a loaded machine. The store attempt meanwhile keeps retrying
        # against the stopped S3 (its reserve is minutes).
        provisioning = lab.create("kill-prov", faults=("slow",))
        lab.wait_for(provisioning, lambda s: s.get("phase") == "Provisioning", 30, "Provisioning")
        time.sleep(1)
        assert lab.status(running)["phase"] == "Running" and lab.status(provisioning)["phase"] == "Provisioning"
        lab.kill("worker")
        killed = time.monotonic()
    finally:
        lab.stack.seaweedfs.start()  # back before the killed attempt times out and is retried
    lab.start("worker")
    print(f"\nworker ready again {time.monotonic() - killed:.1f} s after kill -9")

    for name in (provisioning, running, results):
        status = lab.wait_final(name, "Complete", timeout=240)
        print(f"{name}: Complete and cleaned {time.monotonic() - killed:.1f} s after kill -9")
        assert status["resultsURL"] == lab.results_url(name)
        assert status["resourcesCleaned"] is True
        lab.assert_one_claim_ever(name)
        lab.assert_nothing_left(name)
    eventually(
        lambda: lab.status(running).get("workflowStatus", {}).get("phase") == "Succeeded",
        30,
        "Argo Succeeded",
        tolerate=RESTARTING,
    )
