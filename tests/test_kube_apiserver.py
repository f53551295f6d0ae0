"""The kube-apiserver fixture is a real API server enforcing our generated CRDs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.fixtures.kube import KubeCluster

pytestmark = pytest.mark.kube

GROUP, VERSION = "experiments.illm.io", "v1alpha1"

EXPERIMENT: dict[str, Any] = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "Experiment",
    "metadata": {"generateName": "hello-app-"},
    "spec": {
        "targets": [{"name": "app", "cluster": {"type": "gke", "preemptible": True}}],
        "workflow": {"template": "hello-app", "completion": {"mode": "workflow"}},
    },
}


def _custom(kube: KubeCluster, kubeconfig: Path | None = None) -> Any:
    """CustomObjectsApi; typed Any because the client declares its results as `object`."""
    return client.CustomObjectsApi(kube.api_client(kubeconfig))


def _create(kube: KubeCluster, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = _custom(kube).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "experiments", body
    )
    return created


def test_api_server_rejects_unknown_completion_mode(kube: KubeCluster, kube_namespace: str) -> None:
    body = copy.deepcopy(EXPERIMENT)
    body["spec"]["workflow"]["completion"]["mode"] = "auto"
    with pytest.raises(client.ApiException) as caught:
        _create(kube, kube_namespace, body)
    assert caught.value.status == 422
    assert "spec.workflow.completion.mode" in str(caught.value.body)
    assert "auto" in str(caught.value.body)


def test_api_server_applies_schema_defaults(kube: KubeCluster, kube_namespace: str) -> None:
    created = _create(kube, kube_namespace, copy.deepcopy(EXPERIMENT))
    assert created["spec"]["ttlDays"] == 1
    assert created["spec"]["publish"] is False
    assert created["spec"]["cleanupPolicy"] == "Always"


def test_generate_name_gives_every_create_a_fresh_name(kube: KubeCluster, kube_namespace: str) -> None:
    manifest = kube.control_plane.data_dir / f"{kube_namespace}-exp.yaml"
    manifest.write_text(yaml.safe_dump(EXPERIMENT))
    names = []
    for _ in range(2):
        result = kube.kubectl("create", "-n", kube_namespace, "-f", str(manifest), "-o", "name")
        assert result.returncode == 0, result.stderr
        names.append(result.stdout.strip())
    assert names[0] != names[1]
    assert all(n.startswith("experiment.experiments.illm.io/hello-app-") for n in names)


def test_kubectl_get_shows_the_printer_columns(kube: KubeCluster, kube_namespace: str) -> None:
    created = _create(kube, kube_namespace, copy.deepcopy(EXPERIMENT))
    name = created["metadata"]["name"]
    status = {"status": {"phase": "Running", "workflowStatus": {"name": f"{name}-validation", "phase": "Running"}}}
    _custom(kube).patch_namespaced_custom_object_status(GROUP, VERSION, kube_namespace, "experiments", name, status)
    result = kube.kubectl("get", "experiments", "-n", kube_namespace, "-o", "wide")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    for column in (
        "NAME",
        "PHASE",
        "REASON",
        "TARGETS",
        "WORKFLOW",
        "PUBLISHED",
        "CLEANED",
        "ANALYSIS",
        "REVIEW",
        "RESULTS",
        "AGE",
    ):
        assert column in header.split()
    assert row.split()[:2] == [name, "Running"]
    narrow = kube.kubectl("get", "experiments", "-n", kube_namespace).stdout.splitlines()[0]
    assert "RESULTS" not in narrow.split()


def test_spec_is_immutable_after_creation(kube: KubeCluster, kube_namespace: str) -> None:
    created = _create(kube, kube_namespace, copy.deepcopy(EXPERIMENT))
    patch = {"spec": {"ttlDays": 7}}
    with pytest.raises(client.ApiException) as caught:
        _custom(kube).patch_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, "experiments", created["metadata"]["name"], patch
        )
    assert caught.value.status == 422
    assert "spec is immutable" in str(caught.value.body)


def test_metadata_and_status_stay_writable(kube: KubeCluster, kube_namespace: str) -> None:
    name = _create(kube, kube_namespace, copy.deepcopy(EXPERIMENT))["metadata"]["name"]
    api = _custom(kube)
    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        kube_namespace,
        "experiments",
        name,
        {"metadata": {"finalizers": ["experiments.illm.io/finalizer"]}},
    )
    api.patch_namespaced_custom_object_status(
        GROUP, VERSION, kube_namespace, "experiments", name, {"status": {"phase": "Provisioning"}}
    )
    stored = api.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, "experiments", name)
    assert stored["metadata"]["finalizers"] == ["experiments.illm.io/finalizer"]
    assert stored["status"]["phase"] == "Provisioning"
    api.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, "experiments", name, {"metadata": {"finalizers": None}}
    )


def test_status_subresource_rejects_unknown_phase(kube: KubeCluster, kube_namespace: str) -> None:
    name = _create(kube, kube_namespace, copy.deepcopy(EXPERIMENT))["metadata"]["name"]
    with pytest.raises(client.ApiException) as caught:
        _custom(kube).patch_namespaced_custom_object_status(
            GROUP, VERSION, kube_namespace, "experiments", name, {"status": {"phase": "Exploded"}}
        )
    assert caught.value.status == 422


def test_component_type_enum_is_enforced(kube: KubeCluster) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Component",
        "metadata": {"name": "k6-gateway-loadtest-bad"},
        "spec": {"type": "testing", "sources": [{"repoURL": "https://example.invalid/charts", "chart": "k6"}]},
    }
    with pytest.raises(client.ApiException) as caught:
        _custom(kube).create_cluster_custom_object(GROUP, VERSION, "components", body)
    assert caught.value.status == 422
    assert "spec.type" in str(caught.value.body)


def test_rbac_restricts_a_service_account(kube: KubeCluster, kube_namespace: str) -> None:
    restricted = kube.service_account_kubeconfig(kube_namespace, "reader")
    with pytest.raises(client.ApiException) as caught:
        _custom(kube, restricted).list_namespaced_custom_object(GROUP, VERSION, kube_namespace, "experiments")
    assert caught.value.status == 403

    rbac = client.RbacAuthorizationV1Api(kube.api_client())
    rbac.create_namespaced_role(
        kube_namespace,
        {
            "metadata": {"name": "experiment-reader"},
            "rules": [{"apiGroups": [GROUP], "resources": ["experiments"], "verbs": ["get", "list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        kube_namespace,
        {
            "metadata": {"name": "experiment-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "experiment-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": kube_namespace}],
        },
    )
    listed = _custom(kube, restricted).list_namespaced_custom_object(GROUP, VERSION, kube_namespace, "experiments")
    assert listed["items"] == []
    with pytest.raises(client.ApiException) as denied:
        _create_as(kube, restricted, kube_namespace)
    assert denied.value.status == 403


def _create_as(kube: KubeCluster, kubeconfig: Path, namespace: str) -> None:
    _custom(kube, kubeconfig).create_namespaced_custom_object(GROUP, VERSION, namespace, "experiments", EXPERIMENT)
