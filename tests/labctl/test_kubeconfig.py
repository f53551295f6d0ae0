"""`labctl kubeconfig NAME [TARGET]`: target kubeconfigs saved privately under ~/.illmlab/."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.labctl.conftest import Gateway, experiment_file


def with_secrets(gateway: Gateway, tmp_path: Path, namespace: str) -> str:
    name = gateway.create(experiment_file(tmp_path, namespace))
    core = client.CoreV1Api(gateway.custom.api_client)
    for target, key in (("app", "kubeconfig"), ("loadgen", "value")):
        data = {key: base64.b64encode(f"kubeconfig of {target}\n".encode()).decode()}
        core.create_namespaced_secret(namespace, {"metadata": {"name": f"{name}-{target}-kubeconfig"}, "data": data})
    gateway.patch_status(
        name,
        {
            "tutorialStatus": {"kubeconfigSecrets": {"app": f"{name}-app-kubeconfig"}},
            "targets": [{"name": "loadgen", "kubeconfigSecret": f"{name}-loadgen-kubeconfig"}],
        },
    )
    return name


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_kubeconfig_writes_every_target_owner_only_and_prints_the_export(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = with_secrets(gateway, tmp_path, kube_namespace)

    result = labctl("kubeconfig", name, "-n", kube_namespace)

    assert result.code == 0, result.err
    store = Path(os.environ["HOME"]) / ".illmlab"
    app, loadgen = store / f"kubeconfig-{name}-app", store / f"kubeconfig-{name}-loadgen"
    assert app.read_text() == "kubeconfig of app\n" and loadgen.read_text() == "kubeconfig of loadgen\n"
    assert (mode(store), mode(app), mode(loadgen)) == (0o700, 0o600, 0o600)
    assert result.out.splitlines() == [f"app: {app}", f"loadgen: {loadgen}", f"export KUBECONFIG={app}"]


def test_kubeconfig_of_one_target(labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path) -> None:
    name = with_secrets(gateway, tmp_path, kube_namespace)

    result = labctl("kubeconfig", name, "loadgen", "-n", kube_namespace)

    path = Path(os.environ["HOME"]) / ".illmlab" / f"kubeconfig-{name}-loadgen"
    assert result.out.splitlines() == [f"loadgen: {path}", f"export KUBECONFIG={path}"]
    assert not (path.parent / f"kubeconfig-{name}-app").exists()


def test_kubeconfig_of_an_unknown_target_names_the_known_ones(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = with_secrets(gateway, tmp_path, kube_namespace)

    result = labctl("kubeconfig", name, "db", "-n", kube_namespace)

    assert result.code == 2
    assert (
        result.err == f"labctl kubeconfig: experiment {name} has no kubeconfig for target 'db'; targets: app, loadgen\n"
    )


def test_kubeconfig_without_exposed_secrets_is_one_line(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))

    result = labctl("kubeconfig", name, "-n", kube_namespace)

    assert result.code == 2
    assert result.err.count("\n") == 1 and "exposes no kubeconfigs" in result.err
