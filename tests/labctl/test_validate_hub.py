"""`labctl validate` against a hub: its Components and the WorkflowTemplates of namespace argo-workflows.

The hub is the real API server fixture with the Argo Workflows CRDs installed; the check runs
before anything is created, so a missing reference costs nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from api.base import API_GROUP, API_VERSION
from api.names import ARGO_WORKFLOWS_NAMESPACE
from labctl.controlplane import install_crds
from tests.fixtures.experiment_yaml import experiment_yaml
from tests.fixtures.kube import REPO, KubeCluster

ARGO_CRDS = REPO / "labsim" / "crds" / "argo-workflows.yaml"
HELLO_APP = yaml.safe_load((REPO / "components" / "apps" / "hello-app" / "component.yaml").read_text())


@pytest.fixture
def hub(kube: KubeCluster) -> Iterator[tuple[KubeCluster, str]]:
    """The hub with hello-app and one WorkflowTemplate of a name no other test uses (yielded)."""
    install_crds(kube.kubeconfig, [ARGO_CRDS])
    api = kube.api_client()
    _create(lambda: client.CoreV1Api(api).create_namespace({"metadata": {"name": ARGO_WORKFLOWS_NAMESPACE}}))
    custom = client.CustomObjectsApi(api)
    _create(lambda: custom.create_cluster_custom_object(API_GROUP, API_VERSION, "components", HELLO_APP))
    name = f"hub-only-{uuid.uuid4().hex[:8]}"
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name, "namespace": ARGO_WORKFLOWS_NAMESPACE},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }
    argo = ("argoproj.io", "v1alpha1", ARGO_WORKFLOWS_NAMESPACE, "workflowtemplates")
    custom.create_namespaced_custom_object(*argo, template)
    yield kube, name
    custom.delete_namespaced_custom_object(*argo, name)


def _create(call: Any) -> None:
    try:
        call()
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def experiment(tmp_path: Path, *, template: str, component: str = "hello-app") -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(experiment_yaml(generate_name="hub-check-", template=template, component=component))
    return path


def test_a_template_on_the_hub_is_found(labctl: Any, hub: tuple[KubeCluster, str], tmp_path: Path) -> None:
    kube, template = hub

    result = labctl("validate", "--kubeconfig", str(kube.kubeconfig), str(experiment(tmp_path, template=template)))

    assert result.code == 0, result.out + result.err
    assert "WorkflowTemplates from namespace argo-workflows of the cluster" in result.out


def test_a_template_missing_on_the_hub_is_one_line_with_the_field_and_the_fix(
    labctl: Any, hub: tuple[KubeCluster, str], tmp_path: Path
) -> None:
    kube, template = hub
    path = experiment(tmp_path, template=template + "x")

    result = labctl("validate", "--quiet", "--kubeconfig", str(kube.kubeconfig), str(path))

    assert result.code == 1
    assert result.out.splitlines() == [
        f"{path}: Experiment hub-check-: spec.workflow.template: no WorkflowTemplate named {template + 'x'!r} in "
        f"namespace argo-workflows of the cluster — fix: did you mean `{template}`?"
    ]


def test_the_inline_workflow_needs_no_template_on_the_hub(
    labctl: Any, hub: tuple[KubeCluster, str], tmp_path: Path
) -> None:
    kube, _ = hub

    result = labctl(
        "validate", "--kubeconfig", str(kube.kubeconfig), str(experiment(tmp_path, template="experiment-lifecycle"))
    )

    assert result.code == 0, result.out + result.err


def test_a_component_missing_on_the_hub_is_reported_with_the_template(
    labctl: Any, hub: tuple[KubeCluster, str], tmp_path: Path
) -> None:
    kube, _ = hub
    path = experiment(tmp_path, template="nothing-like-this", component="hello-ap")

    result = labctl("validate", "--quiet", "--kubeconfig", str(kube.kubeconfig), str(path))

    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) == 2, result.out
    assert "components[0].app: no Component named 'hello-ap' — fix: did you mean `hello-app`?" in lines[0]
    assert "spec.workflow.template: no WorkflowTemplate named 'nothing-like-this'" in lines[1]
    assert "or use `experiment-lifecycle` (the built-in workflow)" in lines[1]


def test_context_selects_the_hub(labctl: Any, hub: tuple[KubeCluster, str], tmp_path: Path) -> None:
    kube, template = hub
    config = yaml.safe_load(kube.kubeconfig.read_text())
    hub_context = dict(config["contexts"][0], name="hub")
    config["contexts"] = [{"name": "elsewhere", "context": {"cluster": "nowhere", "user": "nobody"}}, hub_context]
    config["current-context"] = "elsewhere"
    kubeconfig = tmp_path / "two-contexts"
    kubeconfig.write_text(yaml.safe_dump(config))

    result = labctl(
        "validate", "--kubeconfig", str(kubeconfig), "--context", "hub", str(experiment(tmp_path, template=template))
    )

    assert result.code == 0, result.out + result.err
    assert "context hub" in result.out
