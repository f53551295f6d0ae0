"""The embedded lab end to end: every process for real, driven through `labctl` as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client

from labctl.lab.command import start_detached
from labctl.lab.state import LabState
from tests.results.browser import page_text_when
from worker.codec import ENCODING

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
TIME_SCALE = 0.5  # hello-app's 60 s observation window becomes 30 s: long enough for range queries


def labctl(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labctl", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    root = tmp_path_factory.mktemp("lab")
    try:
        yield start_detached(root, TIME_SCALE)
    finally:
        labctl("lab", "--lab-dir", str(root), "down")


@pytest.fixture(scope="module")
def lab_env(lab: LabState) -> dict[str, str]:
    return dict(os.environ) | lab.env()


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


def test_kubectl_get_experiments_shows_the_original_columns(lab: LabState, lab_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), "get", "experiments", "-n", "experiments", "-o", "wide"],
        capture_output=True,
        text=True,
        env=lab_env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:3] == ["NAME", "PHASE", "REASON"] and "RESULTS" in header


def test_manual_experiment_runs_until_labctl_complete(lab: LabState, lab_env: dict[str, str], tmp_path: Path) -> None:
    experiment = yaml.safe_load((REPO / "experiments/hello-app/experiment.yaml").read_text())
    experiment["metadata"]["generateName"] = "manual-lab-"
    experiment["spec"]["workflow"]["completion"]["mode"] = "manual"
    experiment["spec"]["workflow"]["params"] = {"duration": "4s"}
    path = tmp_path / "manual.yaml"
    path.write_text(yaml.safe_dump(experiment))
    created = labctl("run", str(path), "--json", env=lab_env)
    assert created.returncode == 0, created.stderr
    name = json.loads(created.stdout)["metadata"]["name"]

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        shown = json.loads(labctl("status", name, "-o", "json", env=lab_env).stdout)
        status = shown.get("status") or {}
        if status.get("phase") == "Running" and (status.get("workflowStatus") or {}).get("phase") == "Succeeded":
            break
        time.sleep(1)
    else:
        pytest.fail(f"{name} never reached Running with its Argo workflow Succeeded: {status}")
    time.sleep(2)
    still = json.loads(labctl("status", name, "-o", "json", env=lab_env).stdout)
    assert still["status"]["phase"] == "Running"  # manual mode waits for a human

    completed = labctl("complete", name, env=lab_env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        obj = json.loads(labctl("status", name, "-o", "json", env=lab_env).stdout)
        status = obj.get("status") or {}
        if status.get("phase") == "Complete" and status.get("resultsURL"):
            break
        time.sleep(1)
    else:
        pytest.fail(f"{name} did not complete after `labctl complete`: {status}")
    meta = obj["metadata"]
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


def _conditions(status: dict[str, object]) -> dict[str, dict[str, str]]:
    return {str(c["type"]): c for c in status.get("conditions") or []}  # type: ignore[union-attr, index]


def test_manual_inline_lifecycle_ends_on_labctl_complete_with_results_at_once(
    lab: LabState, lab_env: dict[str, str], tmp_path: Path
) -> None:
    """The inline `experiment-lifecycle` waits at a suspend step; `labctl complete` resumes and ends it."""
    experiment = yaml.safe_load((REPO / "experiments/hello-app/experiment.yaml").read_text())
    experiment["metadata"]["generateName"] = "manual-inline-"
    experiment["spec"]["workflow"] = {"template": "experiment-lifecycle", "completion": {"mode": "manual"}}
    path = tmp_path / "manual-inline.yaml"
    path.write_text(yaml.safe_dump(experiment))
    created = labctl("run", str(path), "--json", env=lab_env)
    assert created.returncode == 0, created.stderr
    name = json.loads(created.stdout)["metadata"]["name"]

    def status() -> dict[str, object]:
        return json.loads(labctl("status", name, "-o", "json", env=lab_env).stdout).get("status") or {}

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        current = status()
        ready = _conditions(current).get("Ready") or {}
        if current.get("phase") == "Running" and ready.get("reason") == "AwaitingCompletion":
            break
        time.sleep(1)
    else:
        pytest.fail(f"{name} never reached Running awaiting completion: {current}")

    completed = labctl("complete", name, env=lab_env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    requested = time.monotonic()
    while time.monotonic() < requested + 120:
        current = status()
        if current.get("phase") in ("Complete", "Failed"):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"{name} did not end after `labctl complete`: {current}")
    results = labctl("results", name, env=lab_env)  # at once: Complete means the results exist
    print(f"\n{name}: Complete {time.monotonic() - requested:.1f} s after `labctl complete`")
    assert current["phase"] == "Complete", current
    assert str(current.get("resultsURL", "")).startswith("s3://experiment-results/")
    assert results.returncode == 0, results.stdout + results.stderr
    workflow_status = current["workflowStatus"]
    assert "resumed wait-for-complete" in workflow_status["message"]  # type: ignore[index]
