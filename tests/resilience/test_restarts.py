"""Restarts of the gateway, Temporal and the API server mid-run: nothing duplicated, missed or left.

The gateway's own restart and 410-expiry handling is covered in depth at the gateway level
(tests/gateway/test_restarts.py); here the whole lab runs the experiment through the real worker.
"""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client

from api.experiment import ExperimentStatus
from tests.resilience.conftest import ResilienceLab
from worker.codec import PayloadKeySettings, data_converter
from workflows.messages import STATUS_QUERY


async def _runs_and_final_phase(lab: ResilienceLab, wid: str) -> tuple[int, str]:
    converter = data_converter(PayloadKeySettings(experiment_payload_keys=lab.state.payload_keys()))
    temporal = await Client.connect(f"127.0.0.1:{lab.state.ports['temporal']}", data_converter=converter)
    runs = (await temporal.count_workflows(f'WorkflowId = "{wid}"')).count
    final = await temporal.get_workflow_handle(wid).query(STATUS_QUERY, result_type=ExperimentStatus)
    return runs, str(final.phase)


def assert_completed_once_and_clean(lab: ResilienceLab, name: str) -> None:
    status = lab.wait_final(name, "Complete", timeout=240)
    assert status["resultsURL"] == lab.results_url(name)
    runs, phase = asyncio.run(_runs_and_final_phase(lab, lab.workflow_id(name)))
    assert runs == 1, f"{name}: {runs} workflow runs"
    assert phase == status["phase"], "the Experiment's status did not catch up with the workflow"
    lab.assert_one_claim_ever(name)
    lab.assert_nothing_left(name)


def test_gateway_killed_mid_run_starts_no_duplicate_workflow_and_status_catches_up(lab: ResilienceLab) -> None:
    name = lab.create("gw-restart", duration="16s")
    lab.wait_for(name, lambda s: s.get("phase") == "Running", 60, "Running")
    lab.kill("crd-gateway")
    created_while_down = lab.create("gw-down", duration="2s")  # seen only by the restarted gateway's list
    time.sleep(5)  # the workflow moves on; its status reports wait for a gateway
    began = time.monotonic()
    lab.start("crd-gateway")
    print(f"\ngateway ready {time.monotonic() - began:.1f} s after its restart")
    lab.wait_for(created_while_down, lambda s: bool(s.get("phase")), 60, "a phase from the restarted gateway")
    print(f"the Experiment created while it was down has a phase {time.monotonic() - began:.1f} s after the restart")
    assert_completed_once_and_clean(lab, name)
    print(f"the running one Complete and clean {time.monotonic() - began:.1f} s after the restart")
    assert_completed_once_and_clean(lab, created_while_down)


def test_temporal_restarted_mid_run_the_experiment_completes(lab: ResilienceLab) -> None:
    name = lab.create("tmp-restart", duration="16s")
    lab.wait_for(name, lambda s: s.get("phase") == "Running", 60, "Running")
    lab.stack.processes["temporal"].stop()
    time.sleep(2)
    began = time.monotonic()
    lab.start("temporal")  # same SQLite file: the history is still there
    print(f"\nTemporal ready {time.monotonic() - began:.1f} s after its restart")
    assert_completed_once_and_clean(lab, name)
    print(f"Complete and clean {time.monotonic() - began:.1f} s after the restart")


def test_api_server_restarted_mid_run_misses_nothing(lab: ResilienceLab) -> None:
    name = lab.create("api-restart", duration="16s")
    lab.wait_for(name, lambda s: s.get("phase") == "Running", 60, "Running")
    began = time.monotonic()
    lab.restart_apiserver()
    print(f"\nkube-apiserver ready {time.monotonic() - began:.1f} s after its restart")
    after = lab.create("api-after", duration="2s")  # the gateway's watch must reconnect to see it
    lab.wait_for(after, lambda s: bool(s.get("phase")), 60, "a phase through the reconnected watch")
    print(f"an Experiment created after it has a phase {time.monotonic() - began:.1f} s after the restart")
    assert_completed_once_and_clean(lab, name)
    assert_completed_once_and_clean(lab, after)
