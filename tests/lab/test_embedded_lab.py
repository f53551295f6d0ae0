"""The embedded lab end to end: every process for real, driven through `labctl` as a user would."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from temporalio.client import Client

from api import names
from labctl.lab.state import LabState
from tests.fixtures.eventually import eventually
from tests.fixtures.lab import REPO, experiment_status, lab_env, labctl, module_lab
from tests.results.browser import page_text_when
from worker.codec import ENCODING

pytestmark = pytest.mark.slow
TIME_SCALE = 0.5  # hello-app's 60 s observation window becomes 30 s: long enough for range queries
lab = module_lab(TIME_SCALE)


@pytest.fixture(scope="module")
def env(lab: LabState) -> dict[str, str]:
    return lab_env(lab)


def test_lab_env_prints_exports_other_tools_can_use(lab: LabState) -> None:
    result = labctl("lab", "--lab-dir", str(lab.root), "env")
    assert result.returncode == 0, result.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    assert exports["KUBECONFIG"] == str(lab.kubeconfig)
    assert exports["TEMPORAL_ADDRESS"] == f"127.0.0.1:{lab.ports['temporal']}"
    status = labctl("lab", "--lab-dir", str(lab.root), "status")
    assert status.returncode == 0, status.stdout
    assert "DOWN" not in status.stdout


def test_demo_runs_hello_app_to_complete_with_results(lab: LabState) -> None:
    result = labctl("lab", "--lab-dir", str(lab.root), "demo", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "phase Complete" in out
    assert "Timeline:" in out and "Running" in out
    assert "cpu_total" in out  # default metrics collected from hub VictoriaMetrics
    report = Path(out.split("Report:", 1)[1].split()[0])
    assert report.exists() and "<svg" in report.read_text()
    assert "Temporal UI: http://127.0.0.1:" in out
    reloaded = LabState.load(lab.root)
    assert reloaded is not None and reloaded.ready


def test_kubectl_get_experiments_shows_the_original_columns(lab: LabState, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), "get", "experiments", "-n", "experiments", "-o", "wide"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:3] == ["NAME", "PHASE", "REASON"] and "RESULTS" in header


def test_manual_experiment_runs_until_labctl_complete(lab: LabState, env: dict[str, str], tmp_path: Path) -> None:
    experiment = yaml.safe_load((REPO / "experiments/hello-app/experiment.yaml").read_text())
    experiment["metadata"]["generateName"] = "manual-lab-"
    experiment["spec"]["workflow"]["completion"]["mode"] = "manual"
    experiment["spec"]["workflow"]["params"] = {"duration": "4s"}
    path = tmp_path / "manual.yaml"
    path.write_text(yaml.safe_dump(experiment))
    created = labctl("run", str(path), "--json", env=env)
    assert created.returncode == 0, created.stderr
    meta = json.loads(created.stdout)["metadata"]
    name = meta["name"]

    eventually(
        lambda: experiment_status(lab, name),
        180,
        f"{name} Running with its Argo workflow Succeeded",
        until=lambda s: s.get("phase") == "Running" and (s.get("workflowStatus") or {}).get("phase") == "Succeeded",
        interval=1,
    )
    time.sleep(2)
    assert experiment_status(lab, name)["phase"] == "Running"  # manual mode waits for a human

    completed = labctl("complete", name, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    status = eventually(
        lambda: experiment_status(lab, name),
        180,
        f"{name} Complete with results after `labctl complete`",
        until=lambda s: s.get("phase") == "Complete" and bool(s.get("resultsURL")),
        interval=1,
    )
    assert status["resultsURL"] == f"s3://experiment-results/{meta['namespace']}/{name}/{meta['uid']}/"


def test_lab_history_is_encrypted_and_its_temporal_ui_decodes_it(lab: LabState) -> None:
    async def first_workflow() -> tuple[str, list[bytes]]:
        client = await Client.connect(f"127.0.0.1:{lab.ports['temporal']}")  # no key: what the server stores
        async for execution in client.list_workflows('WorkflowType = "ExperimentWorkflow"'):
            history = await client.get_workflow_handle(execution.id).fetch_history()
            inputs = history.events[0].workflow_execution_started_event_attributes.input.payloads
            return execution.id, [p.metadata["encoding"] for p in inputs]
        raise AssertionError("no ExperimentWorkflow in the lab")

    workflow_id, encodings = asyncio.run(first_workflow())
    assert encodings and set(encodings) == {ENCODING}
    ui = f"http://127.0.0.1:{lab.ports['temporal_ui']}/namespaces/default/workflows/{workflow_id}"
    text = page_text_when(ui, '"targets"')
    assert '"targets"' in text, f"the lab's UI did not decode the workflow input:\n{text[:1500]}"


def current_argo_name(lab: LabState, name: str) -> str:
    status = eventually(
        lambda: experiment_status(lab, name),
        60,
        f"{name} names its Argo workflow",
        until=lambda s: bool((s.get("workflowStatus") or {}).get("name")),
        interval=0.5,
    )
    return str(status["workflowStatus"]["name"])


def suspended_nodes(lab: LabState, argo_name: str) -> list[str]:
    """The Argo workflow's suspend steps now waiting, as `argo get` lists them."""
    with config.new_client_from_config(config_file=str(lab.kubeconfig)) as api:
        wf = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "argoproj.io", "v1alpha1", names.ARGO_WORKFLOWS_NAMESPACE, "workflows", argo_name, _request_timeout=30
        )
    nodes = ((wf.get("status") or {}).get("nodes") or {}).values()
    return [str(n.get("displayName")) for n in nodes if n.get("type") == "Suspend" and n.get("phase") == "Running"]


def _reason(status: dict[str, Any], condition: str) -> str | None:
    return next((c.get("reason") for c in status.get("conditions") or [] if c["type"] == condition), None)


def test_manual_inline_lifecycle_ends_on_labctl_complete_with_results_at_once(
    lab: LabState, env: dict[str, str], tmp_path: Path
) -> None:
    """The inline `experiment-lifecycle` waits at a suspend step; `labctl complete` resumes and ends it."""
    experiment = yaml.safe_load((REPO / "experiments/hello-app/experiment.yaml").read_text())
    experiment["metadata"]["generateName"] = "manual-inline-"
    experiment["spec"]["workflow"] = {"template": "experiment-lifecycle", "completion": {"mode": "manual"}}
    path = tmp_path / "manual-inline.yaml"
    path.write_text(yaml.safe_dump(experiment))
    created = labctl("run", str(path), "--json", env=env)
    assert created.returncode == 0, created.stderr
    name = json.loads(created.stdout)["metadata"]["name"]

    eventually(
        lambda: experiment_status(lab, name),
        180,
        f"{name} Running awaiting completion",
        until=lambda s: s.get("phase") == "Running" and _reason(s, "Ready") == "AwaitingCompletion",
        interval=1,
    )

    # AwaitingCompletion is reported as soon as the experiment waits; the Argo workflow reaches its
    # suspend step a moment later (on a busy machine, seconds). Complete once it is there, so that
    # the resume has a step to resume, as a user watching `argo get` would.
    argo_name = current_argo_name(lab, name)
    eventually(
        lambda: suspended_nodes(lab, argo_name),
        120,
        f"Argo workflow {argo_name} at its suspend step",
        until=bool,
        interval=0.5,
    )
    completed = labctl("complete", name, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    requested = time.monotonic()
    current = eventually(
        lambda: experiment_status(lab, name),
        180,
        f"{name} ended after `labctl complete`",
        until=lambda s: s.get("phase") in ("Complete", "Failed"),
        interval=0.5,
    )
    results = labctl("results", name, env=env)  # at once: Complete means the results exist
    print(f"\n{name}: Complete {time.monotonic() - requested:.1f} s after `labctl complete`")
    assert current["phase"] == "Complete", current
    assert str(current.get("resultsURL", "")).startswith("s3://experiment-results/")
    assert results.returncode == 0, results.stdout + results.stderr
    assert "resumed wait-for-complete" in current["workflowStatus"]["message"]
