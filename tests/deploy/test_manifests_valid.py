"""Every manifest under deploy/ (as the overlays build it) and platform/ is a valid object.

Built-in kinds and the CRD kinds the test API server knows (ours, and the lab simulator's minimal
argoproj.io / illm.io CRDs) are server-side applied with dry run, so the real API server validates
them. Third-party kinds whose CRDs only their operators install (External Secrets, Kyverno,
Crossplane packages, ...) get an offline check of the fields their controllers require.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from labctl.controlplane import install_crds
from labctl.kube import apply
from labsim import CRD_DIR as LABSIM_CRD_DIR
from tests.deploy.conftest import PLATFORM, REPO, Manifest, name_of
from tests.fixtures.kube import KubeCluster


def _get(doc: Manifest, path: str) -> Any:
    node: Any = doc
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _has(*paths: str) -> Callable[[Manifest], list[str]]:
    """Each path (dotted; `a|b` means either) must be present and non-empty."""

    def check(doc: Manifest) -> list[str]:
        return [path for path in paths if not any(_get(doc, option) for option in path.split("|"))]

    return check


# Fields without which the kind's controller rejects or ignores the object.
THIRD_PARTY: dict[tuple[str, str], Callable[[Manifest], list[str]]] = {
    ("external-secrets.io", "ExternalSecret"): _has(
        "spec.secretStoreRef.name", "spec.target.name", "spec.data|spec.dataFrom"
    ),
    ("external-secrets.io", "ClusterSecretStore"): _has("spec.provider"),
    ("kyverno.io", "ClusterPolicy"): _has("spec.rules"),
    ("pkg.crossplane.io", "Provider"): _has("spec.package"),
    ("pkg.crossplane.io", "Function"): _has("spec.package"),
    ("pkg.crossplane.io", "Configuration"): _has("spec.package"),
    ("pkg.crossplane.io", "DeploymentRuntimeConfig"): _has("spec"),
    ("gcp.upbound.io", "ProviderConfig"): _has("spec.projectID", "spec.credentials.source"),
    ("aws.upbound.io", "ProviderConfig"): _has("spec.credentials.source"),
    ("azure.upbound.io", "ProviderConfig"): _has("spec.credentials.source"),
    ("apiextensions.crossplane.io", "CompositeResourceDefinition"): _has(
        "spec.group", "spec.names.kind", "spec.names.plural", "spec.versions"
    ),
    ("apiextensions.crossplane.io", "Composition"): _has(
        "spec.compositeTypeRef.apiVersion", "spec.compositeTypeRef.kind", "spec.pipeline|spec.resources"
    ),
    ("apiextensions.crossplane.io", "EnvironmentConfig"): _has("metadata.name"),
}


def _group(doc: Manifest) -> str:
    api_version = str(doc["apiVersion"])
    return api_version.split("/")[0] if "/" in api_version else ""


def _all_manifests(
    built: dict[str, list[Manifest]], platform_manifests: list[tuple[Path, Manifest]]
) -> list[tuple[str, Manifest]]:
    docs = [(f"deploy/overlays/{overlay}", doc) for overlay, overlay_docs in built.items() for doc in overlay_docs]
    return docs + [(str(path.relative_to(REPO)), doc) for path, doc in platform_manifests]


def test_every_manifest_has_api_version_kind_and_name(
    built: dict[str, list[Manifest]], platform_manifests: list[tuple[Path, Manifest]]
) -> None:
    manifests = _all_manifests(built, platform_manifests)
    assert len(manifests) > 50
    for source, doc in manifests:
        assert isinstance(doc, dict), f"{source}: not a mapping"
        missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
        assert not missing and _get(doc, "metadata.name"), (
            f"{source}: {name_of(doc)} lacks {missing or 'metadata.name'}"
        )


@pytest.fixture(scope="module")
def api_client(kube: KubeCluster) -> client.ApiClient:
    """The shared API server, with the simulator's argoproj.io/illm.io CRDs and the namespaces used."""
    install_crds(kube.kubeconfig, sorted(LABSIM_CRD_DIR.glob("*.yaml")))
    api = kube.api_client()
    return api


def _ensure_namespaces(api: client.ApiClient, docs: list[Manifest]) -> None:
    # A dry-run-created Namespace does not exist afterwards, so objects in it could not be checked.
    # Created with the manifests' labels, so Pod Security admission enforces what they declare.
    labels = {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in docs if d["kind"] == "Namespace"}
    names = set(labels) | {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
    core = client.CoreV1Api(api)
    for name in sorted(names):
        try:
            core.create_namespace({"metadata": {"name": name, "labels": labels.get(name, {})}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            if labels.get(name):  # another test created it first
                core.patch_namespace(name, {"metadata": {"labels": labels[name]}})


@pytest.mark.kube
def test_manifests_are_accepted_by_the_api_server_or_match_their_kind(
    api_client: client.ApiClient,
    built: dict[str, list[Manifest]],
    platform_manifests: list[tuple[Path, Manifest]],
) -> None:
    dynamic = DynamicClient(api_client)
    served: list[tuple[str, Manifest]] = []
    problems: list[str] = []
    for source, doc in _all_manifests(built, platform_manifests):
        try:
            dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            served.append((source, doc))
        except ResourceNotFoundError:
            check = THIRD_PARTY.get((_group(doc), doc["kind"]))
            if check is None:
                problems.append(f"{source}: {name_of(doc)}: unknown kind {doc['apiVersion']} (add it to THIRD_PARTY)")
            elif missing := check(doc):
                problems.append(f"{source}: {name_of(doc)} lacks {', '.join(missing)}")
    _ensure_namespaces(api_client, [doc for _, doc in served])
    for source, doc in served:
        try:
            apply(api_client, [doc], dry_run=True)
        except client.ApiException as exc:
            problems.append(f"{source}: {name_of(doc)} rejected: {exc.status} {exc.body}")
    assert not problems, "\n".join(problems)
    assert {doc["kind"] for _, doc in served} >= {"Deployment", "NetworkPolicy", "Application"}


def test_platform_applications_pin_charts_and_order_by_sync_wave(
    platform_manifests: list[tuple[Path, Manifest]],
) -> None:
    apps = {doc["metadata"]["name"]: doc for path, doc in platform_manifests if path.parent == PLATFORM / "apps"}
    expected = {
        "argocd", "crossplane", "crossplane-providers", "crossplane-compositions", "argo-workflows",
        "victoria-metrics", "seaweedfs", "temporal", "experiment-system", "external-secrets", "openbao",
        "kyverno", "kyverno-policies", "loki", "tempo", "tailscale-operator",
    }  # fmt: skip
    assert expected <= set(apps), f"missing Applications: {expected - set(apps)}"
    for name, app in apps.items():
        int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        sources = app["spec"].get("sources") or [app["spec"]["source"]]
        for source in sources:
            if "chart" in source:
                version = str(source["targetRevision"])
                assert version[0].isdigit() and "*" not in version and "x" not in version, f"{name}: unpinned {version}"
                for values in source.get("helm", {}).get("valueFiles", []):
                    assert (REPO / values.removeprefix("$values/")).is_file(), f"{name}: {values} missing"
            elif "path" in source:
                assert (REPO / source["path"]).is_dir(), f"{name}: {source['path']} missing"

    def wave(name: str) -> int:
        return int(apps[name]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])

    assert wave("kyverno-policies") < wave("experiment-system"), "signature policy must be in place first"
    assert wave("crossplane") < wave("crossplane-providers") < wave("crossplane-compositions")
    assert wave("external-secrets") < wave("platform-secrets") <= wave("temporal")
    assert wave("temporal") < wave("experiment-system")


def test_the_root_application_syncs_platform_apps(platform_manifests: list[tuple[Path, Manifest]]) -> None:
    (root,) = [doc for path, doc in platform_manifests if path == PLATFORM / "bootstrap" / "hub-application.yaml"]
    assert root["spec"]["source"]["path"] == "platform/apps"
    assert root["spec"]["syncPolicy"]["automated"]["selfHeal"] is True


@pytest.mark.kube
def test_pods_are_admitted_under_the_restricted_pod_security_standard(
    api_client: client.ApiClient, built: dict[str, list[Manifest]]
) -> None:
    docs = built["hub"]
    _ensure_namespaces(api_client, docs)
    core = client.CoreV1Api(api_client)
    deployments = [doc for doc in docs if doc["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        namespace = deployment["metadata"]["namespace"]
        labels = core.read_namespace(namespace).metadata.labels or {}
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
        template = deployment["spec"]["template"]
        account = template["spec"]["serviceAccountName"]
        try:
            core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        metadata = {**template["metadata"], "name": f"psa-{deployment['metadata']['name']}"}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
        # Pod Security admission runs on dry-run creates too; a violation is a 403 naming the field.
        core.create_namespaced_pod(namespace, pod, dry_run="All")
