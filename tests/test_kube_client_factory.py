"""One Kubernetes client factory (runtime/kube.py) for the worker, the gateway and labctl, with
controller-runtime's fallback order: explicit kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config.

Each source authenticates as a different ServiceAccount of the real API server, and the server says
who the client is (SelfSubjectReview), so every assertion is about which credentials were used. The
pod's service account is what a pod has: its token and CA files (the client's in-cluster file paths
pointed at them) and ``KUBERNETES_SERVICE_HOST``/``PORT``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.config import ConfigException, incluster_config

from activities.settings import ActivitySettings
from crd_gateway.settings import GatewaySettings
from labctl.settings import LabctlSettings
from runtime.kube import ClusterChoice, kube_configuration
from tests.fixtures.kube import KubeCluster

pytestmark = pytest.mark.kube


def username(choice: ClusterChoice) -> str:
    with client.ApiClient(kube_configuration(choice)) as api:
        review: Any = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
    return str(review.status.user_info.username)


@pytest.fixture
def identities(
    kube: KubeCluster, kube_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Kubeconfigs of ServiceAccounts ``explicit`` and ``env``, ``~/.kube/config`` as ``home``, and this
    process "in a pod" running as ``pod``."""
    paths = {name: kube.service_account_kubeconfig(kube_namespace, name) for name in ("explicit", "env", "home", "pod")}
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(paths["home"].read_text())
    monkeypatch.setenv("HOME", str(home))
    pod = yaml.safe_load(paths["pod"].read_text())
    token = tmp_path / "serviceaccount" / "token"
    token.parent.mkdir()
    token.write_text(pod["users"][0]["user"]["token"])
    assert kube.control_plane.pki is not None
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(kube.control_plane.pki.ca_cert))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(kube.control_plane.apiserver_port))
    return {name: str(path) for name, path in paths.items()} | {
        "user": {name: f"system:serviceaccount:{kube_namespace}:{name}" for name in paths}
    }


def test_an_explicit_kubeconfig_wins_over_everything(identities: dict[str, Any]) -> None:
    choice = ClusterChoice(explicit=identities["explicit"], env=identities["env"])
    assert username(choice) == identities["user"]["explicit"]


def test_kubeconfig_env_wins_over_the_pods_service_account(identities: dict[str, Any]) -> None:
    """The gateway used to ask the pod's account first, so $KUBECONFIG was ignored in a pod."""
    assert username(ClusterChoice(env=identities["env"])) == identities["user"]["env"]


def test_the_pods_service_account_wins_over_a_stray_home_kubeconfig(identities: dict[str, Any]) -> None:
    """The worker used to read ~/.kube/config first, so an image with one reached the wrong hub."""
    assert username(ClusterChoice()) == identities["user"]["pod"]


def test_home_kubeconfig_is_the_last_resort(identities: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert username(ClusterChoice()) == identities["user"]["home"]


def test_a_named_kubeconfig_that_is_missing_is_an_error_not_another_cluster(
    identities: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(ConfigException):
        kube_configuration(ClusterChoice(explicit=str(tmp_path / f"missing-{uuid.uuid4().hex}")))


@pytest.mark.parametrize(
    ("make_choice", "explicit_variable"),
    [
        (lambda: ActivitySettings().hub_cluster, "HUB_KUBECONFIG"),
        (lambda: GatewaySettings().cluster_choice, "GATEWAY_KUBECONFIG"),
        (lambda: LabctlSettings().cluster_choice(), None),
    ],
    ids=["worker", "gateway", "labctl"],
)
def test_every_process_reads_the_same_variables_into_the_same_order(
    make_choice: Any, explicit_variable: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HUB_KUBECONFIG", "GATEWAY_KUBECONFIG"):  # a session fixture may have set one
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("KUBECONFIG", "/from/env")
    assert make_choice() == ClusterChoice(env="/from/env")
    if explicit_variable:
        monkeypatch.setenv(explicit_variable, "/from/setting")
        assert make_choice() == ClusterChoice(explicit="/from/setting", env="/from/env")
