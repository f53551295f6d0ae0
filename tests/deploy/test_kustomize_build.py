"""The kustomize overlays render the whole experiment system, the same bytes every time."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.deploy.conftest import OVERLAYS, Manifest, by_kind, kustomize_build

EXPECTED_KINDS = {
    "CustomResourceDefinition",
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "ExternalSecret",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "NetworkPolicy",
}
IMAGE = "ghcr.io/illmadecoder/k8s-ai-cloud-testbed"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_build_is_reproducible(overlay: str) -> None:
    assert kustomize_build(overlay) == kustomize_build(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_build_contains_the_whole_experiment_system(built: dict[str, list[Manifest]], overlay: str) -> None:
    docs = built[overlay]
    kinds = Counter(doc["kind"] for doc in docs)
    assert set(kinds) >= EXPECTED_KINDS, f"missing kinds: {EXPECTED_KINDS - set(kinds)}"
    assert {"experiments.experiments.illm.io", "components.experiments.illm.io"} <= set(
        by_kind(docs, "CustomResourceDefinition")
    )
    assert {"crd-gateway", "experiment-worker", "temporal-codec-server"} == set(by_kind(docs, "Deployment"))
    names = [(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]) for doc in docs]
    assert len(names) == len(set(names)), "an object is rendered twice"


def test_overlays_differ_only_in_image_tag_replicas_and_log_level(built: dict[str, list[Manifest]]) -> None:
    hub, lab = (by_kind(built[o], "Deployment") for o in OVERLAYS)
    assert hub["crd-gateway"]["spec"]["replicas"] == 2
    assert lab["crd-gateway"]["spec"]["replicas"] == 1
    for deployments, tag in ((hub, "0.1.0"), (lab, "dev")):
        for deployment in deployments.values():
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["image"] == f"{IMAGE}:{tag}"
    assert {d["kind"] for d in built["hub"]} == {d["kind"] for d in built["lab"]}


def test_both_processes_share_one_image_and_pick_their_command(built: dict[str, list[Manifest]]) -> None:
    deployments = by_kind(built["hub"], "Deployment")
    commands = {name: d["spec"]["template"]["spec"]["containers"][0]["command"] for name, d in deployments.items()}
    assert commands == {
        "crd-gateway": ["python", "-m", "crd_gateway"],
        "experiment-worker": ["python", "-m", "worker"],
        "temporal-codec-server": ["python", "-m", "worker.codec_server"],
    }


@pytest.mark.parametrize("name", ["crd-gateway", "experiment-worker", "temporal-codec-server"])
def test_pods_meet_the_restricted_pod_security_standard(built: dict[str, list[Manifest]], name: str) -> None:
    pod = by_kind(built["hub"], "Deployment")[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= set(container["resources"])
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    namespace = by_kind(built["hub"], "Namespace")["experiment-system"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_gateway_runs_two_replicas_with_a_lease_and_a_disruption_budget(built: dict[str, list[Manifest]]) -> None:
    docs = built["hub"]
    gateway = by_kind(docs, "Deployment")["crd-gateway"]
    assert gateway["spec"]["replicas"] == 2
    assert "podAntiAffinity" in gateway["spec"]["template"]["spec"]["affinity"]
    settings = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("crd-gateway"))
    assert settings["data"]["GATEWAY_LEASE_NAMESPACE"] == "experiment-system"
    lease_binding = by_kind(docs, "RoleBinding")["crd-gateway-leader-election"]
    assert lease_binding["metadata"]["namespace"] == "experiment-system"
    assert lease_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "crd-gateway", "namespace": "experiment-system"}
    ]
    assert by_kind(docs, "PodDisruptionBudget")["crd-gateway"]["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "crd-gateway"
    }


def test_every_pod_runs_as_a_service_account_the_build_creates(built: dict[str, list[Manifest]]) -> None:
    docs = built["hub"]
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "ServiceAccount"}
    for deployment in by_kind(docs, "Deployment").values():
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert (deployment["metadata"]["namespace"], account) in accounts
    for binding in (d for d in docs if d["kind"] in {"RoleBinding", "ClusterRoleBinding"}):
        for subject in binding["subjects"]:
            assert (subject["namespace"], subject["name"]) in accounts, binding["metadata"]["name"]


def _worker_roles(docs: list[Manifest]) -> list[Manifest]:
    return [d for d in docs if d["kind"] in {"ClusterRole", "Role"} and d["metadata"]["name"] == "experiment-worker"]


def test_worker_cannot_write_experiments(built: dict[str, list[Manifest]]) -> None:
    for role in _worker_roles(built["hub"]):
        for rule in role["rules"]:
            if "experiments.illm.io" in rule["apiGroups"]:
                assert not any(r.startswith("experiments/") for r in rule["resources"])
                assert set(rule["verbs"]) <= {"get", "list", "watch"}
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]


def test_worker_reads_secrets_only_in_the_connection_namespace(built: dict[str, list[Manifest]]) -> None:
    readers = {}
    for role in _worker_roles(built["hub"]):
        for rule in role["rules"]:
            if "secrets" in rule["resources"]:
                assert role["kind"] == "Role", "no Secret rights cluster-wide"
                if set(rule["verbs"]) & {"get", "list", "watch"}:
                    readers[role["metadata"]["namespace"]] = (rule.get("resourceNames"), set(rule["verbs"]))
    assert readers == {"experiment-connections": (None, {"get"}), "tailscale": (["operator-oauth"], {"get"})}


def test_every_credential_comes_from_openbao(built: dict[str, list[Manifest]]) -> None:
    docs = built["hub"]
    external = by_kind(docs, "ExternalSecret")
    assert {spec["spec"]["secretStoreRef"]["name"] for spec in external.values()} == {"openbao"}
    targets = {e["spec"]["target"]["name"] for e in external.values()}
    for deployment in by_kind(docs, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in targets, f"{env['name']} reads a Secret no ExternalSecret provides"
    assert not [d for d in docs if d["kind"] == "Secret"], "no Secret objects in Git"


def test_network_is_default_deny(built: dict[str, list[Manifest]]) -> None:
    policies = by_kind(built["hub"], "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_knows_where_direct_transport_writes(built: dict[str, list[Manifest]], overlay: str) -> None:
    [settings] = [
        d for d in built[overlay] if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("experiment-worker-")
    ]
    assert settings["data"]["METRICS_DIRECT_WRITE_URL"].endswith("/api/v1/write")
