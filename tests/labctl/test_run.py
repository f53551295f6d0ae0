"""`labctl run`: creates from generateName like `kubectl create`, follows phases, exit code from the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from api.experiment import Experiment
from tests.labctl.conftest import Gateway, experiment_file


def test_run_without_wait_creates_the_experiment_from_generate_name(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    result = labctl("run", str(experiment_file(tmp_path, kube_namespace)))

    assert result.code == 0, result.err
    assert result.out.startswith(f"experiment {kube_namespace}/demo-")
    name = result.out.split("/")[1].split()[0]
    assert gateway.get(name)["spec"]["workflow"]["template"] == "hello-app-validation"


def test_run_wait_prints_each_change_and_exits_0_when_complete(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    gateway.walk_first_created("Complete")

    result = labctl("run", str(experiment_file(tmp_path, kube_namespace)), "--wait", "--timeout", "30")

    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    phases = [line.split("phase ", 1)[1] for line in lines if "] phase " in line]
    assert phases[-1] == "Complete"
    assert phases == sorted(set(phases), key=phases.index)  # each phase once, in order
    assert any("target app: Provisioning" in line for line in lines)
    assert any("condition Provisioned=True (ClustersReady): 2 clusters ready" in line for line in lines)
    assert any("workflow http://temporal.test/wf/" in line for line in lines)
    assert lines[-1].endswith("Complete (hypothesis validated)")
    assert all(line.startswith("[") for line in lines[1:-1])


def test_run_wait_exits_1_and_names_the_reason_when_failed(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    gateway.walk_first_created("Failed")

    result = labctl("run", str(experiment_file(tmp_path, kube_namespace)), "--wait", "--timeout", "30")

    assert result.code == 1
    assert result.out.splitlines()[-1].endswith("Failed: WorkflowFailed: validation step failed")


def test_run_wait_json_prints_only_the_finished_experiment_on_stdout(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    gateway.walk_first_created("Complete")

    result = labctl("run", str(experiment_file(tmp_path, kube_namespace)), "--wait", "--json", "--timeout", "30")

    assert result.code == 0, result.err
    experiment = Experiment.model_validate(json.loads(result.out))
    assert experiment.status is not None and experiment.status.phase == "Complete"
    assert "] phase Complete" in result.err


def test_run_wait_times_out_with_one_line_and_exit_2(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    result = labctl("run", str(experiment_file(tmp_path, kube_namespace)), "--wait", "--timeout", "1")

    assert result.code == 2
    assert (
        result.err.strip().splitlines() == [result.err.strip().splitlines()[0]]
        and "timed out after 1s: experiment demo-" in result.err
    )
    assert result.err.strip().endswith("is still Pending")


def test_run_refuses_an_invalid_file_with_the_lines_validate_prints(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    path = experiment_file(tmp_path, kube_namespace)
    path.write_text(path.read_text().replace("type: gke", "type: gkee", 1))

    validated = labctl("validate", "--quiet", str(path))
    result = labctl("run", str(path))

    assert result.code == 1
    assert validated.out.strip() and validated.out.strip() in result.err
    assert "nothing was created" in result.err
    assert gateway.names() == []


def test_run_namespace_flag_overrides_the_files_namespace(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    path = experiment_file(tmp_path, "somewhere-else")

    result = labctl("run", str(path), "-n", kube_namespace)

    assert result.code == 0, result.err
    assert result.out.startswith(f"experiment {kube_namespace}/demo-")


def test_run_without_any_namespace_uses_the_kubeconfig_context_namespace(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, monkeypatch: Any
) -> None:
    import yaml

    config = yaml.safe_load(Path(gateway_kubeconfig()).read_text())
    config["contexts"][0]["context"]["namespace"] = kube_namespace
    custom = tmp_path / "kubeconfig"
    custom.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(custom))
    path = experiment_file(tmp_path, kube_namespace)
    path.write_text(path.read_text().replace(f"  namespace: {kube_namespace}\n", ""))

    result = labctl("run", str(path))

    assert result.code == 0, result.err
    assert result.out.startswith(f"experiment {kube_namespace}/demo-")


def gateway_kubeconfig() -> str:
    import os

    return os.environ["KUBECONFIG"]
