"""Every manifest under deploy/ (as kustomize builds it) and platform/ is a well-formed, admissible object.

The server-side dry run of all of them against a real API server with every kind's CRD is
tests/deploy/test_platform_dry_run.py; here: names, pinned charts, sync waves, Pod Security.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.deploy.conftest import PLATFORM, REPO, Manifest, all_manifests, ensure_namespaces, name_of
from tests.fixtures.kube import KubeCluster


def test_every_manifest_has_api_version_kind_and_name(
    built: dict[str, list[Manifest]], platform_manifests: list[tuple[Path, Manifest]]
) -> None:
    manifests = all_manifests(built, platform_manifests)
    assert len(manifests) > 50
    for source, doc in manifests:
        assert isinstance(doc, dict), f"{source}: not a mapping"
        missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
        assert not missing and (doc.get("metadata") or {}).get("name"), (
            f"{source}: {name_of(doc)} lacks {missing or 'metadata.name'}"
        )


def test_platform_applications_pin_charts_and_order_by_sync_wave(
    platform_manifests: list[tuple[Path, Manifest]],
) -> None:
    apps = {doc["metadata"]["name"]: doc for path, doc in platform_manifests if path.parent == PLATFORM / "apps"}
    expected = {
        "argocd", "crossplane", "crossplane-providers", "crossplane-compositions", "argo-workflows",
        "victoria-metrics", "seaweedfs", "temporal", "experiment-system", "external-secrets", "openbao",
        "kyverno", "kyverno-policies", "loki", "tempo", "tailscale-operator", "cloudnative-pg",
        "temporal-postgresql", "catalog",
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
    assert wave("cloudnative-pg") < wave("temporal-postgresql") < wave("temporal")
    assert wave("platform-secrets") < wave("temporal-postgresql") and wave("seaweedfs") <= wave("temporal-postgresql")
    assert max(wave("experiment-system"), wave("argo-workflows")) < wave("catalog"), "the catalog's CRDs first"


def test_the_root_application_syncs_platform_apps(platform_manifests: list[tuple[Path, Manifest]]) -> None:
    (root,) = [doc for path, doc in platform_manifests if path == PLATFORM / "bootstrap" / "hub-application.yaml"]
    assert root["spec"]["source"]["path"] == "platform/apps"
    assert root["spec"]["syncPolicy"]["automated"]["selfHeal"] is True


def _one(platform_manifests: list[tuple[Path, Manifest]], kind: str, name: str) -> Manifest:
    (doc,) = [d for _, d in platform_manifests if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_temporal_runs_two_replicas_of_every_service_with_a_budget_and_metrics() -> None:
    values = yaml.safe_load((PLATFORM / "values" / "temporal.yaml").read_text())
    server = values["server"]
    assert server["metrics"]["annotations"]["enabled"] is True
    # The chart renders a service's PDB only when that service's own replicaCount is above 1.
    for service in ("frontend", "history", "matching", "worker"):
        assert server[service]["replicaCount"] >= 2, service
        assert server[service]["podDisruptionBudget"] == {"maxUnavailable": 1}, service
        assert server[service]["metrics"]["annotations"]["enabled"] is True, service
    assert values["web"]["replicaCount"] >= 2 and values["web"]["podDisruptionBudget"]
    for store in ("default", "visibility"):
        sql = server["config"]["persistence"][store]["sql"]
        assert sql["host"] == "temporal-postgresql-rw.temporal.svc.cluster.local", "the CloudNativePG primary"
        assert sql["existingSecret"] == "temporal-db"


def test_temporal_database_is_replicated_and_backed_up_to_seaweedfs(
    platform_manifests: list[tuple[Path, Manifest]],
) -> None:
    cluster = _one(platform_manifests, "Cluster", "temporal-postgresql")["spec"]
    assert cluster["instances"] >= 2 and cluster["storage"]["size"]
    initdb = cluster["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"], initdb["secret"]["name"]) == ("temporal", "temporal", "temporal-db")
    visibility = _one(platform_manifests, "Database", "temporal-visibility")["spec"]
    assert (visibility["name"], visibility["owner"]) == ("temporal_visibility", "temporal")
    store = cluster["backup"]["barmanObjectStore"]
    bucket = store["destinationPath"].removeprefix("s3://").split("/")[0]
    seaweedfs = yaml.safe_load((PLATFORM / "values" / "seaweedfs.yaml").read_text())
    assert bucket in {b["name"] for b in seaweedfs["filer"]["s3"]["createBuckets"]}
    assert store["endpointURL"].startswith("http://seaweedfs-s3.seaweedfs.svc")
    synced = {
        (d["metadata"]["namespace"], d["spec"]["target"]["name"])
        for _, d in platform_manifests
        if d["kind"] == "ExternalSecret"
    }
    for ref in store["s3Credentials"].values():
        assert ("temporal", ref["name"]) in synced, f"{ref['name']}: no ExternalSecret provides it"
    assert ("temporal", "temporal-db") in synced
    backup = _one(platform_manifests, "ScheduledBackup", "temporal-postgresql-nightly")["spec"]
    assert backup["cluster"]["name"] == "temporal-postgresql" and backup["method"] == "barmanObjectStore"
    assert (
        not list((PLATFORM / "apps").glob("*bitnami*"))
        and "bitnami" not in (PLATFORM / "apps" / "temporal-postgresql.yaml").read_text()
    )


@pytest.fixture(scope="module")
def api_client(kube: KubeCluster) -> client.ApiClient:
    return kube.api_client()


@pytest.mark.kube
def test_pods_are_admitted_under_the_restricted_pod_security_standard(
    api_client: client.ApiClient, built: dict[str, list[Manifest]]
) -> None:
    docs = built["hub"]
    ensure_namespaces(api_client, docs)
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
