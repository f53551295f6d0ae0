"""Every manifest under deploy/ (as kustomize builds it) and platform/ is a well-formed, admissible object.

The server-side dry run of all of them against a real API server with every kind's CRD is
tests/deploy/test_platform_dry_run.py; here: names, pinned charts, sync waves, Pod Security.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from tests.deploy.conftest import Manifest, all_manifests, ensure_namespaces, name_of
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
