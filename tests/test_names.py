"""Names derived from an Experiment always fit where they go, and two Experiment objects never share one.

Limits: Kubernetes names that become label values or DNS labels (claims, Applications, Workflows,
namespaces) 63, other object names 253; cloud cluster names GKE 40 (``[a-z]([-a-z0-9]*[a-z0-9])?``),
EKS 100 (``[0-9A-Za-z][A-Za-z0-9_-]*``), AKS 63 (alphanumerics, ``-``, ``_``; alphanumeric first and last).
"""

from __future__ import annotations

import re

import pytest

from api import names
from api.base import ObjectMeta
from api.experiment import Experiment
from api.validation import check_experiment

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CLOUD_RULES = {
    "gke": (40, re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")),
    "eks": (100, re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$")),
    "aks": (63, re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$")),
}
UID = "5f0c2a6e-8d1b-4c7a-9e3f-0a1b2c3d4e5f"
LONGEST_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253: the longest metadata.name
LONGEST_TARGET = "t" * 63  # targets are DNS labels (api.experiment.Target)
NAMES = [
    LONGEST_NAME,
    "observability-cost-tutorial-x7k2p",  # the original's, refused by the old GKE rule
    "a",
    "9starts-with-a-digit",
    "z" * 63,
]
TARGETS = [LONGEST_TARGET, "app", "loadgen", "0"]


def identity(name: str, namespace: str = "experiments", uid: str = UID) -> names.Identity:
    return names.Identity(namespace=namespace, name=name, uid=uid)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("provider", sorted(CLOUD_RULES))
def test_cloud_cluster_names_fit_every_provider(name: str, target: str, provider: str) -> None:
    limit, rule = CLOUD_RULES[provider]
    cloud = names.cloud_cluster_name(identity(name), target, provider)
    assert len(cloud) <= limit and rule.match(cloud), cloud
    assert cloud.startswith("illm-")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("target", TARGETS)
def test_kubernetes_names_fit_their_limits(name: str, target: str) -> None:
    ref = identity(name, namespace="n" * 63)
    labels_and_dns = [
        names.claim_name(ref, target),
        names.cluster_name(ref, target, "gke"),
        names.argo_workflow_name(ref),
        names.workload_namespace(ref),
        names.analysis_job_name(ref),
        *(names.app_name(ref, target, layer) for layer in names.LAYERS),
    ]
    for derived in labels_and_dns:
        assert len(derived) <= 63 and DNS_LABEL.match(derived), derived
    for derived in (names.kubeconfig_secret(ref, target), names.argocd_cluster_secret(names.claim_name(ref, target))):
        assert len(derived) <= 253 and DNS_SUBDOMAIN.match(derived), derived
    label = names.experiment_label(ref)
    assert len(label) <= 63 and LABEL_VALUE.match(label), label


def test_short_names_keep_the_original_readable_prefix() -> None:
    ref = identity("hello-app-x7k2p")
    assert names.claim_name(ref, "app").startswith("hello-app-x7k2p-app-")
    assert names.app_name(ref, "app", "obs").startswith("hello-app-x7k2p-app-obs-")
    assert names.argo_workflow_name(ref).startswith("hello-app-x7k2p-validation-")
    assert names.workload_namespace(ref).startswith("hello-app-x7k2p-")
    assert names.experiment_label(ref) == "hello-app-x7k2p"
    assert names.cloud_cluster_name(ref, "app", "gke").startswith("illm-hello-app-x7k2p-app-")


def test_twins_and_a_recreated_namesake_share_no_name() -> None:
    a, b, again = identity("foo", "a"), identity("foo", "b"), identity("foo", "a", uid=UID.replace("5", "6"))
    for derive in (
        lambda r: names.claim_name(r, "app"),
        lambda r: names.cloud_cluster_name(r, "app", "gke"),
        lambda r: names.app_name(r, "app"),
        names.argo_workflow_name,
        names.workload_namespace,
        lambda r: names.kubeconfig_secret(r, "app"),
        names.summary_key,
    ):
        assert len({derive(a), derive(b), derive(again)}) == 3
    assert names.summary_key(a) == f"a/foo/{UID}/summary.json"


def test_names_are_deterministic() -> None:
    assert names.claim_name(identity(LONGEST_NAME), "app") == names.claim_name(identity(LONGEST_NAME), "app")
    assert names.claim_name(identity(LONGEST_NAME), "app") != names.claim_name(identity(LONGEST_NAME), "app2")


@pytest.mark.parametrize("provider", sorted(CLOUD_RULES))
def test_validation_accepts_the_longest_names_for_every_provider(provider: str) -> None:
    for meta in (ObjectMeta(name=LONGEST_NAME), ObjectMeta(generate_name="observability-cost-tutorial-")):
        exp = Experiment.model_validate(
            {
                "apiVersion": "experiments.illm.io/v1alpha1",
                "kind": "Experiment",
                "metadata": meta.model_dump(by_alias=True, exclude_none=True),
                "spec": {
                    "targets": [{"name": LONGEST_TARGET, "cluster": {"type": provider}}],
                    "workflow": {"template": "experiment-lifecycle", "completion": {"mode": "workflow"}},
                },
            }
        )
        assert check_experiment(exp, None) == []
