"""Which cluster labctl talks to: $KUBECONFIG, --kubeconfig, --context; and one line when it cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.kube import KubeCluster
from tests.labctl.conftest import Gateway, experiment_file

COMMANDS = [
    ("list",),
    ("status", "x"),
    ("complete", "x"),
    ("review", "x", "approve"),
    ("results", "x"),
    ("report", "x"),
    ("kubeconfig", "x"),
]


def unreachable_kubeconfig(kube: KubeCluster, tmp_path: Path) -> Path:
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unreachable_cluster_is_one_line_and_exit_2(
    labctl: Any, kube: KubeCluster, tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = unreachable_kubeconfig(kube, tmp_path)

    result = labctl(*command, "--kubeconfig", str(path))

    assert result.code == 2
    assert result.err == f"labctl {command[0]}: cannot reach the cluster (kubeconfig {path}): MaxRetryError\n"


def test_run_against_an_unreachable_cluster_is_one_line(labctl: Any, kube: KubeCluster, tmp_path: Path) -> None:
    path = unreachable_kubeconfig(kube, tmp_path)

    result = labctl("run", str(experiment_file(tmp_path, "experiments")), "--kubeconfig", str(path), "--wait")

    assert result.code == 2
    assert result.err.count("\n") == 1 and "cannot reach the cluster" in result.err
    assert "Traceback" not in result.err


def test_a_missing_kubeconfig_is_one_line(labctl: Any, tmp_path: Path) -> None:
    result = labctl("list", "--kubeconfig", str(tmp_path / "nope"))

    assert result.code == 2
    assert result.err.startswith(f"labctl list: cannot use kubeconfig {tmp_path / 'nope'}: ")
    assert result.err.count("\n") == 1


def test_kubeconfig_env_is_honoured(labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))

    result = labctl("list", "-n", kube_namespace)  # no --kubeconfig: $KUBECONFIG (set by kube_env)

    assert name in result.out


def test_context_selects_the_cluster_and_its_namespace(
    labctl: Any, gateway: Gateway, kube: KubeCluster, kube_namespace: str, tmp_path: Path, monkeypatch: Any
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))
    config = yaml.safe_load(kube.kubeconfig.read_text())
    good = dict(config["contexts"][0], name="lab")
    good["context"] = dict(good["context"], namespace=kube_namespace)
    broken = {"name": "elsewhere", "context": {"cluster": "nowhere", "user": good["context"]["user"]}}
    config["contexts"] = [broken, good]
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    config["current-context"] = "elsewhere"
    path = tmp_path / "two-contexts"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(path))

    default = labctl("list")
    chosen = labctl("status", name, "--context", "lab")

    assert default.code == 2 and "cannot reach the cluster" in default.err
    assert chosen.code == 0, chosen.err
    assert f"Namespace:     {kube_namespace}" in chosen.out


def test_an_unknown_context_is_one_line(labctl: Any, kube_env: KubeCluster) -> None:
    result = labctl("list", "--context", "nope")

    assert result.code == 2
    assert result.err.count("\n") == 1 and "context nope" in result.err
