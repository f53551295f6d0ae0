"""Cluster access per cloud, against connection Secrets shaped like the providers' and the simulator's
fake identity services, which the API server trusts through its token webhook."""

from __future__ import annotations

import base64
import json
import time

import pytest
import yaml
from kubernetes import client

from activities.clusters import cloud_access
from activities.clusters.claims import read_kubeconfig
from activities.clusters.cloud_access import REFRESH_MARGIN, Cluster, _Tokens, cloud_kubeconfig, target_client
from activities.deploy.argocd import cluster_secret
from activities.settings import ActivitySettings
from api import names
from api.experiment import ExperimentSpec
from api.names import Identity
from labsim.identity import AWS_ACCOUNT_ARN, SERVICE_ACCOUNT
from labsim.kubeconfig import standalone_kubeconfig
from tests.activities.conftest import Lab, create_experiment, gke_spec, provisioned

pytestmark = pytest.mark.kube


def who_am_i(api: client.ApiClient) -> str:
    review = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    return str(review.status.user_info.username)


def connection_user(lab: Lab, cluster_type: str, claim: str) -> dict[str, object]:
    plural = f"{cluster_type}clusters"
    xr = lab.custom().get_namespaced_custom_object("illm.io", "v1alpha1", "experiments", plural, claim)["spec"][
        "resourceRef"
    ]["name"]
    secret = lab.core().read_namespaced_secret(f"{xr}-cluster-conn", names.CONNECTION_NAMESPACE)
    kubeconfig = yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]))
    return dict(kubeconfig["users"][0]["user"] or {})


@pytest.mark.asyncio
@pytest.mark.parametrize(("cluster_type", "identity"), [("gke", SERVICE_ACCOUNT), ("eks", AWS_ACCOUNT_ARN)])
async def test_the_worker_reaches_a_cluster_whose_secret_has_no_credential_with_a_cloud_token(
    lab: Lab, kube_namespace: str, cluster_type: str, identity: str
) -> None:
    doc = gke_spec([{"name": "app", "cluster": {"type": cluster_type}, "components": [{"app": "hello-app"}]}])
    ref = create_experiment(lab, kube_namespace, doc)
    ready = (await provisioned(lab, ref, ExperimentSpec.model_validate(doc)))["app"]
    claim = str(ready.kubeconfig_secret)
    user = connection_user(lab, cluster_type, claim)
    assert not {"client-certificate-data", "client-key-data", "token"} & set(user)  # as on the real cloud

    with target_client(read_kubeconfig(lab.kube.api_client(), cluster_type, claim), ActivitySettings()) as api:
        assert who_am_i(api) == identity
    # The RBAC bootstrap ran with that identity; no token reached the activity's result.
    binding = client.RbacAuthorizationV1Api(lab.kube.api_client()).read_cluster_role_binding("experiment-client-admin")
    assert binding.role_ref.name == "cluster-admin"
    assert "ya29." not in ready.model_dump_json() and "k8s-aws-v1." not in ready.model_dump_json()


def test_aks_without_local_accounts_is_reached_with_an_entra_token(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    identity, pki = lab.simulator.identity, lab.kube.control_plane.pki
    assert identity is not None and pki is not None
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", identity.serve_tls(pki.serving_cert, pki.serving_key))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_cert))  # the fake Entra ID's certificate
    monkeypatch.setenv("AZURE_DISABLE_INSTANCE_DISCOVERY", "true")  # Microsoft's discovery does not know it
    admin = yaml.safe_load(standalone_kubeconfig(lab.kube.kubeconfig, "aks"))["clusters"][0]["cluster"]
    kubeconfig = cloud_kubeconfig(Cluster("aks", "illm-aks"), admin["server"], admin["certificate-authority-data"])

    with target_client(kubeconfig, ActivitySettings()) as api:
        assert who_am_i(api) == identity.azure_client_id


def test_kubeconfigs_and_argocd_registration_name_the_provider_auth_not_a_credential() -> None:
    gke = yaml.safe_load(cloud_kubeconfig(Cluster("gke", "illm-a"), "https://10.0.0.1", "Q0E="))
    eks = yaml.safe_load(cloud_kubeconfig(Cluster("eks", "illm-b", "eu-west-1"), "https://10.0.0.2", "Q0E="))
    aks = yaml.safe_load(cloud_kubeconfig(Cluster("aks", "illm-c"), "https://10.0.0.3", "Q0E="))
    assert gke["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert eks["users"][0]["user"]["exec"]["args"][:2] == ["--region", "eu-west-1"]
    assert "6dae42f8-4368-4678-94ff-3960e28e3630" in aks["users"][0]["user"]["exec"]["args"]

    def config(doc: dict[str, object]) -> dict[str, object]:
        secret = cluster_secret(Identity("ns", "exp", "uid-1"), "c", "10.0.0.1", json.dumps(doc))
        return dict(json.loads((secret.string_data or {})["config"]))

    assert config(eks)["awsAuthConfig"] == {"clusterName": "illm-b"}
    assert config(gke)["execProviderConfig"] == {
        "command": "argocd-k8s-auth",
        "args": ["gcp"],
        "apiVersion": "client.authentication.k8s.io/v1beta1",
    }
    assert config(aks)["execProviderConfig"]["env"] == {"AAD_LOGIN_METHOD": "workloadidentity"}  # type: ignore[index]
    assert all("bearerToken" not in config(doc) for doc in (gke, eks, aks))


def test_a_token_is_renewed_before_it_expires_and_reused_until_then() -> None:
    made: list[str] = []

    def source(lifetime: float) -> tuple[str, float]:
        made.append(f"token-{len(made)}")
        return made[-1], time.time() + lifetime

    long_lived = _Tokens(lambda: source(3600))
    assert long_lived.current() == long_lived.current() == "token-0"
    short = _Tokens(lambda: source(REFRESH_MARGIN - 1))  # an EKS token near the end of its 15 minutes
    assert short.current() != short.current()


def test_a_target_client_is_reused_until_its_kubeconfig_changes_then_the_old_one_is_closed(lab: Lab) -> None:
    settings = ActivitySettings()
    kubeconfig = lab.kube.kubeconfig.read_text()
    with target_client(kubeconfig, settings) as first:
        me = who_am_i(first)
    with target_client(kubeconfig, settings) as again:
        assert again is first  # no new client (and TLS connection) per call
        assert first.rest_client.pool_manager.pools  # the connection it opened is kept

    rotated = yaml.safe_load(kubeconfig)  # the connection Secret changed (here: a harmless addition)
    rotated["preferences"] = {"colors": True}
    with target_client(yaml.safe_dump(rotated), settings) as second:
        assert second is not first
        assert who_am_i(second) == me
    assert not first.rest_client.pool_manager.pools  # the replaced client was closed


def test_target_clients_beyond_the_bound_are_closed_once_unused_and_rebuilt_when_used_again(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud_access, "TARGET_CLIENTS", 1)
    settings = ActivitySettings()
    kubeconfig = lab.kube.kubeconfig.read_text()
    other = yaml.safe_load(kubeconfig)  # the same API server under another context: another cached client
    other["contexts"][0]["name"] = other["current-context"] = "another-target"
    with target_client(kubeconfig, settings) as first:
        me = who_am_i(first)
        with target_client(yaml.safe_dump(other), settings) as second:
            assert who_am_i(second) == me
            assert first.rest_client.pool_manager.pools  # pushed out of the cache, but still in use
    assert not first.rest_client.pool_manager.pools  # closed by its last user
    with target_client(kubeconfig, settings) as again:
        assert again is not first
        assert who_am_i(again) == me
    assert not second.rest_client.pool_manager.pools  # pushed out, unused: closed at once
