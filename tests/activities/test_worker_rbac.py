"""Least privilege: the worker's activities run as the ServiceAccount of deploy/base/worker-rbac.yaml, with
the admission policies of deploy/base/worker-admission.yaml, on the real API server (labsim, as admin,
plays Crossplane, ArgoCD and Argo); what the worker must never do is refused by the API server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.cleanup import cleanup_experiment
from activities.clusters.contracts import ProvisionClusterInput, ReadyCluster, WaitForClusterInput
from activities.clusters.provisioning import provision_cluster, wait_for_cluster_ready
from activities.contracts import CleanupInput, CleanupTarget, ExperimentRef
from activities.deploy.argocd import IN_CLUSTER, deploy_applications
from activities.run.argo_workflows import submit_argo_workflow, wait_for_argo_workflow
from activities.run.contracts import ArgoWorkflowPhase, WaitForArgoWorkflowInput
from activities.settings import ActivitySettings
from activities.watches import HubWatches
from api import names
from api.experiment import ExperimentSpec
from labsim.projects import destination_permitted
from tests.activities.conftest import (
    REPO,
    Lab,
    application,
    create_experiment,
    deploy_input,
    gke_spec,
    observed_gke_app,
    run,
    unique_name,
)
from tests.activities.test_argo_workflows import make_template, submit_input
from tests.fixtures.eventually import eventually
from tests.gateway.test_rbac import gateway_kubeconfig

pytestmark = pytest.mark.kube

BASE = REPO / "deploy" / "base"
WORKER_NAMESPACE, WORKER = "experiment-system", "experiment-worker"
HUB_NAMESPACES = (
    WORKER_NAMESPACE,
    names.CLAIM_NAMESPACE,
    names.CONNECTION_NAMESPACE,
    names.ARGOCD_NAMESPACE,
    names.ARGO_WORKFLOWS_NAMESPACE,
    "tailscale",
    "crossplane-system",
)
GATEWAY_NAMESPACE = WORKER_NAMESPACE
"""The hub runs the gateway next to the worker (deploy/gateway/kustomization.yaml)."""


@pytest.fixture(scope="module")
def worker_kubeconfig(lab: Lab) -> Path:
    core = lab.core()
    for namespace in HUB_NAMESPACES:
        try:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        except ApiException as exc:
            if exc.status != 409:
                raise
    _ensure_secret(core, "crossplane-system", "gcp-credentials", {"credentials": "crossplane's admin key"})
    _ensure_secret(core, names.ARGOCD_NAMESPACE, "argocd-secret", {"server.secretkey": "argocd's signing key"})
    _ensure_secret(core, "tailscale", "operator-oauth", {"client_id": "k123", "client_secret": "tskey-client"})
    for manifest in ("worker-rbac.yaml", "worker-admission.yaml"):
        applied = lab.kube.kubectl("apply", "-f", str(BASE / manifest))
        assert applied.returncode == 0, applied.stderr
    kubeconfig = lab.kube.service_account_kubeconfig(WORKER_NAMESPACE, WORKER)
    eventually(lambda: _policies_active(lab, kubeconfig), 30, "the worker's admission policies in effect")
    return kubeconfig


def _policies_active(lab: Lab, kubeconfig: Path) -> bool:
    """A dry run of what the policies refuse (RBAC allows it): refused once the API server has loaded them."""
    core = client.CoreV1Api(lab.kube.api_client(kubeconfig))
    probe = client.V1Secret(metadata=client.V1ObjectMeta(name="policy-probe"))
    try:
        core.create_namespaced_secret(names.ARGOCD_NAMESPACE, probe, dry_run="All")
    except ApiException as exc:
        return exc.status == 422
    return False


@pytest.fixture(scope="module")
def as_worker(worker_kubeconfig: Path) -> ActivitySettings:
    """The activities' settings of a worker that runs as its ServiceAccount."""
    return ActivitySettings(hub_kubeconfig=worker_kubeconfig)


def _ensure_secret(core: client.CoreV1Api, namespace: str, name: str, data: dict[str, str]) -> None:
    try:
        core.create_namespaced_secret(
            namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
        )
    except ApiException as exc:
        if exc.status != 409:
            raise


def _refused(call: object) -> ApiException:
    """The API server's answer to a call it must refuse (403 Forbidden: RBAC; 422 Invalid: admission policy)."""
    assert callable(call)
    try:
        call()
    except ApiException as exc:
        assert exc.status in (403, 422), exc
        return exc
    raise AssertionError("the API server allowed it")


@pytest.mark.asyncio
async def test_one_experiment_runs_its_lifecycle_as_the_worker_service_account(
    lab: Lab, as_worker: ActivitySettings
) -> None:
    doc = gke_spec(
        [
            {"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "hello-app"}]},
            observed_gke_app(),
        ],
        tutorial={"exposeKubeconfig": True},
    )
    ref = create_experiment(lab, names.CLAIM_NAMESPACE, doc)  # the gateway's namespace for Experiments
    spec = ExperimentSpec.model_validate(doc)
    watches = HubWatches(as_worker)  # the worker's informers list and watch as its ServiceAccount too
    try:
        await _lifecycle(lab, ref, spec, as_worker, watches)
        # Each informer the activities started (claims of every kind, Applications, templates, …) may
        # list and watch its kind: one the role forbids never syncs, and its reads all go to the API.
        unsynced = lambda: [i.kind.plural for i in watches.informers.values() if not i.synced]  # noqa: E731
        eventually(lambda: not unsynced(), 30, "every informer of the worker synced")
    finally:
        watches.stop()


async def _lifecycle(
    lab: Lab, ref: ExperimentRef, spec: ExperimentSpec, as_worker: ActivitySettings, watches: HubWatches
) -> None:
    ready = {t.name: await _provision(ref, t, as_worker, watches) for t in spec.targets}
    assert ready["app"].kubeconfig_secret == names.kubeconfig_secret(ref, "app")
    for target, layers in (("hub", ["workload"]), ("app", ["infra", "obs", "workload"])):
        for layer in layers:
            inp = deploy_input(ref, spec, target, ready[target], layer)  # type: ignore[arg-type]
            inp = inp.model_copy(update={"cluster_name": names.cluster_name(ref, target, inp.target.cluster.type)})
            deployed = await run(deploy_applications, inp, as_worker, watches)
            assert deployed.applications
    assert application(lab, names.app_name(ref, "hub"))["spec"]["project"] == names.ARGOCD_PROJECT
    submitted = await run(submit_argo_workflow, submit_input(ref, make_template(lab)), as_worker, watches)
    finished = await run(
        wait_for_argo_workflow, WaitForArgoWorkflowInput(experiment=ref, name=submitted.name), as_worker, watches
    )
    assert finished.phase == ArgoWorkflowPhase.SUCCEEDED

    targets = [
        CleanupTarget(
            name=t.name, cluster_type=t.cluster.type, cluster_name=names.cluster_name(ref, t.name, t.cluster.type)
        )
        for t in spec.targets
    ]
    report = await run(cleanup_experiment, CleanupInput(experiment=ref, targets=targets), as_worker, watches)

    assert report.not_deleted == []
    claim = names.claim_name(ref, "app")
    assert f"Secret/{names.ARGOCD_NAMESPACE}/{names.argocd_cluster_secret(claim)}" in report.deleted
    assert f"Secret/{ref.namespace}/{names.kubeconfig_secret(ref, 'app')}" in report.deleted
    assert f"Namespace/{names.workload_namespace(ref)}" in report.deleted


async def _provision(
    ref: ExperimentRef, target: object, settings: ActivitySettings, watches: HubWatches
) -> ReadyCluster:
    cluster = target.cluster  # type: ignore[attr-defined]
    name = target.name  # type: ignore[attr-defined]
    made = await run(provision_cluster, ProvisionClusterInput(experiment=ref, target=name, cluster=cluster), settings)
    wait = WaitForClusterInput(experiment=ref, target=name, cluster_type=cluster.type, cluster_name=made.cluster_name)
    return await run(wait_for_cluster_ready, wait, settings, watches)


def test_the_worker_cannot_read_argocd_secret(lab: Lab, worker_kubeconfig: Path) -> None:
    core = client.CoreV1Api(lab.kube.api_client(worker_kubeconfig))
    _refused(lambda: core.read_namespaced_secret("argocd-secret", names.ARGOCD_NAMESPACE))
    _refused(lambda: core.list_namespaced_secret(names.ARGOCD_NAMESPACE))


def test_the_worker_cannot_read_the_cloud_credentials(lab: Lab, worker_kubeconfig: Path) -> None:
    core = client.CoreV1Api(lab.kube.api_client(worker_kubeconfig))
    _refused(lambda: core.read_namespaced_secret("gcp-credentials", "crossplane-system"))
    _refused(lambda: core.list_namespaced_secret(names.CONNECTION_NAMESPACE))  # get by name only


def test_the_worker_cannot_relabel_the_gateways_namespace(lab: Lab, worker_kubeconfig: Path) -> None:
    core = client.CoreV1Api(lab.kube.api_client(worker_kubeconfig))
    privileged = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    _refused(lambda: core.patch_namespace(GATEWAY_NAMESPACE, privileged))
    _refused(lambda: core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="worker-made"))))


def test_the_worker_cannot_overwrite_or_delete_what_it_did_not_write(lab: Lab, worker_kubeconfig: Path) -> None:
    """RBAC lets it write Secrets in argocd and delete namespaces; the admission policies narrow both."""
    core = client.CoreV1Api(lab.kube.api_client(worker_kubeconfig))
    forged = client.V1Secret(metadata=client.V1ObjectMeta(name="argocd-secret"), string_data={"admin.password": "x"})
    _refused(lambda: core.replace_namespaced_secret("argocd-secret", names.ARGOCD_NAMESPACE, forged))
    _refused(lambda: core.delete_namespaced_secret("argocd-secret", names.ARGOCD_NAMESPACE))
    _refused(lambda: core.delete_namespace("kube-system"))
    _refused(lambda: core.delete_namespace(GATEWAY_NAMESPACE))


def test_the_worker_cannot_target_the_hubs_kube_system(lab: Lab, worker_kubeconfig: Path) -> None:
    """The API server refuses it (admission policy), and ArgoCD would (the project's destinations)."""
    custom = client.CustomObjectsApi(lab.kube.api_client(worker_kubeconfig))
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "takeover", "labels": {names.EXPERIMENT_UID_LABEL: "x"}},
        "spec": {
            "project": names.ARGOCD_PROJECT,
            "sources": [{"repoURL": "https://example.com/charts", "chart": "anything", "targetRevision": "1.0.0"}],
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "kube-system"},
        },
    }

    def create(project: str) -> object:
        body = {**app, "spec": {**app["spec"], "project": project}}
        return custom.create_namespaced_custom_object(
            "argoproj.io", "v1alpha1", names.ARGOCD_NAMESPACE, "applications", body
        )

    for project in (names.ARGOCD_PROJECT, names.ARGOCD_CLUSTERS_PROJECT, "default"):
        assert _refused(lambda project=project: create(project)).status == 422  # type: ignore[misc]


def _projects() -> dict[str, list[dict[str, str]]]:
    docs = yaml.safe_load_all((BASE / "argocd-projects.yaml").read_text())
    return {d["metadata"]["name"]: d["spec"]["destinations"] for d in docs}


def test_the_projects_destinations_exclude_the_hubs_own_namespaces() -> None:
    """ArgoCD's fence, checked with ArgoCD's matching rules (labsim.projects): experiment namespaces only."""
    hub, clusters = _projects()[names.ARGOCD_PROJECT], _projects()[names.ARGOCD_CLUSTERS_PROJECT]
    workloads = names.workload_namespace(names.Identity("experiments", "hello", "0b7c1e2a-uid"))
    assert destination_permitted(hub, IN_CLUSTER, workloads)
    for namespace in ("kube-system", "argocd", GATEWAY_NAMESPACE, names.CONNECTION_NAMESPACE, "default"):
        assert not destination_permitted(hub, IN_CLUSTER, namespace), namespace
    assert not destination_permitted(hub, "https://10.0.0.1", workloads)
    assert destination_permitted(clusters, "https://10.0.0.1", "kube-system")  # the experiment's own cluster
    assert not destination_permitted(clusters, IN_CLUSTER, workloads)


def test_labsim_refuses_to_sync_outside_the_project_as_argocd_does(lab: Lab) -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": unique_name("fence-")},
        "spec": {
            "project": names.ARGOCD_PROJECT,
            "sources": [{"repoURL": "https://example.com/charts", "chart": "anything", "targetRevision": "1.0.0"}],
            "destination": {"server": IN_CLUSTER, "namespace": "kube-system"},
        },
    }
    lab.custom().create_namespaced_custom_object("argoproj.io", "v1alpha1", names.ARGOCD_NAMESPACE, "applications", app)

    def condition() -> str | None:
        status = application(lab, app["metadata"]["name"]).get("status") or {}
        return next((c["message"] for c in status.get("conditions") or [] if c["type"] == "InvalidSpecError"), None)

    message = eventually(condition, 30, "InvalidSpecError")
    assert "do not match any of the allowed destinations in project 'experiments'" in str(message)


@pytest.mark.parametrize("account", ["worker", "gateway"])
def test_neither_service_account_reads_argocd_or_cloud_secrets_relabels_namespaces_or_deploys_to_kube_system(
    lab: Lab, worker_kubeconfig: Path, account: str
) -> None:
    """The issue's four refusals, for both processes (the gateway by RBAC alone: it has no such rights)."""
    kubeconfig = worker_kubeconfig if account == "worker" else gateway_kubeconfig(lab.kube)
    api = lab.kube.api_client(kubeconfig)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"{account}-into-kube-system"},
        "spec": {
            "project": names.ARGOCD_PROJECT,
            "source": {"repoURL": "https://example.com/charts", "chart": "anything", "targetRevision": "1.0.0"},
            "destination": {"server": IN_CLUSTER, "namespace": "kube-system"},
        },
    }
    labels = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}

    assert _refused(lambda: core.read_namespaced_secret("argocd-secret", names.ARGOCD_NAMESPACE)).status == 403
    assert _refused(lambda: core.read_namespaced_secret("gcp-credentials", "crossplane-system")).status == 403
    assert _refused(lambda: core.patch_namespace(GATEWAY_NAMESPACE, labels)).status == 403
    created = _refused(
        lambda: custom.create_namespaced_custom_object(
            "argoproj.io", "v1alpha1", names.ARGOCD_NAMESPACE, "applications", app
        )
    )
    assert created.status == (422 if account == "worker" else 403)  # worker: admission policy; gateway: RBAC
