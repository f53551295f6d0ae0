"""The simulator looks up what ArgoCD and Argo keep in caches (projects, cluster Secrets, namespaces, rendered
objects, WorkflowTemplates) in its informers' stores, and still asks the API when a store lacks something.
Counts are the real kube-apiserver's own (``apiserver_request_total``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from activities.deploy.argocd import deploy_applications
from api import names
from api.experiment import ExperimentSpec
from labsim.lookups import CLUSTER_SECRETS, NAMESPACES, RENDERED, WORKFLOW_TEMPLATES
from tests.activities.conftest import (
    Lab,
    application,
    create_experiment,
    deploy_input,
    gke_spec,
    observed_gke_app,
    provisioned,
    run,
    unique_name,
)
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.kube

ARGO = ("argoproj.io", "v1alpha1")
TRACKING = "app.kubernetes.io/instance"


def rendered(lab: Lab, app: str) -> list[tuple[str, str]]:
    """(namespace, name) of the ConfigMaps the Application's sync reports (read without listing ConfigMaps)."""
    resources = (application(lab, app).get("status") or {}).get("resources") or []
    return [(r["namespace"], r["name"]) for r in resources if r["kind"] == "ConfigMap"]


def exists(lab: Lab, namespace: str, name: str) -> bool:
    try:
        lab.core().read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def terminating(lab: Lab) -> list[str]:
    return [str(ns.metadata.name) for ns in lab.core().list_namespace().items if ns.metadata.deletion_timestamp]


@pytest.mark.asyncio
async def test_syncing_and_deleting_applications_reads_projects_secrets_namespaces_and_configmaps_from_stores(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec([observed_gke_app()])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = (await provisioned(lab, ref, spec))["app"]
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "infra"), watches=lab.watches)
    lookups, namespace = lab.simulator.lookups, names.workload_namespace(ref)
    # What the infra layer made has reached the stores (a store that lags would only cost API reads).
    eventually(lambda: lookups.get(NAMESPACES, "", namespace), 30, "the workload namespace in the store")
    eventually(lambda: lookups.select(CLUSTER_SECRETS, names.EXPERIMENT_UID_LABEL, ref.uid), 30, "the cluster Secret")
    apps = [names.app_name(ref, "app", layer) for layer in ("infra", "obs", "workload")]
    # kube-controller-manager lists and deletes every kind in a namespace being deleted (an earlier test's).
    eventually(lambda: not terminating(lab), 120, "no namespace being deleted")

    before = lab.kube.requests()
    for layer in ("obs", "workload"):
        await run(deploy_applications, deploy_input(ref, spec, "app", ready, layer), watches=lab.watches)
    objects = [cm for app in apps for cm in rendered(lab, app)]
    eventually(lambda: all(lookups.select(RENDERED, TRACKING, a) for a in apps), 30, "the ConfigMaps in the store")
    for app in apps:
        lab.custom().delete_namespaced_custom_object(*ARGO, names.ARGOCD_NAMESPACE, "applications", app)
    eventually(lambda: not any(exists(lab, *cm) for cm in objects), 30, "every rendered ConfigMap deleted")
    counted = ("GET appprojects", "LIST secrets", "POST namespaces", "PATCH namespaces", "LIST configmaps")
    requests = lab.kube.requests_since(before, *counted, "DELETE configmaps")

    assert len(objects) == 4 and requests == dict.fromkeys(counted, 0) | {"DELETE configmaps": 4}
    left = lab.core().list_namespaced_config_map(namespace, label_selector=TRACKING).items
    assert not [cm for cm in left if cm.metadata.labels[TRACKING] in apps]
    labels = lab.core().read_namespace(namespace).metadata.labels
    assert (
        labels["pod-security.kubernetes.io/enforce"] == "privileged" and labels[names.EXPERIMENT_UID_LABEL] == ref.uid
    )


def test_an_application_to_an_unregistered_cluster_syncs_once_its_secret_exists(lab: Lab) -> None:
    name, server = unique_name("unregistered-"), f"https://{unique_name('cluster-')}.example:443"
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "sources": [{"repoURL": "https://example.com/charts", "chart": "anything", "targetRevision": "1.0.0"}],
            "destination": {"server": server, "namespace": name},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    }
    lab.custom().create_namespaced_custom_object(*ARGO, names.ARGOCD_NAMESPACE, "applications", app)

    def conditions() -> list[str]:
        return [c["message"] for c in (application(lab, name).get("status") or {}).get("conditions") or []]

    assert "has not been configured" in eventually(lambda: "".join(conditions()), 30, "InvalidSpecError")
    secret = {
        "metadata": {"name": name, "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "data": {"server": base64.b64encode(server.encode()).decode()},
    }
    lab.core().create_namespaced_secret(names.ARGOCD_NAMESPACE, secret)
    try:
        health: Any = eventually(
            lambda: ((application(lab, name).get("status") or {}).get("health") or {}).get("status") == "Healthy",
            30,
            "synced once the cluster is registered",
        )
        assert health and conditions() == []
    finally:
        lab.custom().delete_namespaced_custom_object(*ARGO, names.ARGOCD_NAMESPACE, "applications", name)
        lab.core().delete_namespaced_secret(name, names.ARGOCD_NAMESPACE)
        lab.core().delete_namespace(name)


def test_a_workflow_takes_its_template_from_the_store(lab: Lab) -> None:
    name = unique_name("stored-")
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {"arguments": {"parameters": [{"name": "labsim-duration", "value": "0s"}]}},
    }
    lab.custom().create_namespaced_custom_object(*ARGO, names.ARGO_WORKFLOWS_NAMESPACE, "workflowtemplates", template)
    where = names.ARGO_WORKFLOWS_NAMESPACE
    eventually(lambda: lab.simulator.lookups.get(WORKFLOW_TEMPLATES, where, name), 30, "the template in the store")
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"workflowTemplateRef": {"name": name}},
    }

    before = lab.kube.requests()
    lab.custom().create_namespaced_custom_object(*ARGO, where, "workflows", workflow)

    def phase() -> str | None:
        found: Any = lab.custom().get_namespaced_custom_object(*ARGO, where, "workflows", name)
        return (found.get("status") or {}).get("phase")

    assert eventually(lambda: phase() in ("Succeeded", "Failed", "Error") and phase(), 30, "finished") == "Succeeded"
    assert lab.kube.requests_since(before, "GET workflowtemplates") == {"GET workflowtemplates": 0}
    lab.custom().delete_namespaced_custom_object(*ARGO, where, "workflows", name)
    lab.custom().delete_namespaced_custom_object(*ARGO, where, "workflowtemplates", name)
