"""One-off reads served from the worker's informers: Components and claims are read from the store when it
has them, from the API when it does not, and what the activities return is the same either way. The
counts come from the real kube-apiserver's own ``apiserver_request_total`` (nothing else in the test
session GETs Components or claims: the simulator lists them)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.clusters.claims import claim_kind, experiment_claims, read_kubeconfig, watched_claims
from activities.deploy.argocd import REGISTERED, deploy_applications
from activities.deploy.component_sources import COMPONENTS, read_component
from activities.errors import ApplicationFailed
from activities.settings import ActivitySettings
from activities.watches import HubWatches
from api import names
from api.base import API_GROUP, API_VERSION
from api.component import PodSecurityLevel
from api.experiment import ExperimentSpec
from labctl.catalog import from_directory
from tests.activities.conftest import (
    REPO,
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


@pytest.mark.asyncio
async def test_deploying_every_layer_of_a_target_gets_no_component_claim_or_application_once_they_are_watched(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec([observed_gke_app()])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = (await provisioned(lab, ref, spec))["app"]
    # Its own watches, whose safety-net re-read never comes due during the test: only one-off reads count.
    watches = HubWatches(ActivitySettings(watch_resync_seconds=3600))
    try:
        eventually(lambda: watches.stored(COMPONENTS, "hello-app"), 30, "the catalog in the informer's store")
        claims = watched_claims(claim_kind("gke"))
        eventually(lambda: watches.stored(claims, ready.kubeconfig_secret or ""), 30, "the claim in the store")

        before = lab.kube.requests()
        for layer in ("infra", "obs", "workload"):  # each layer reads the Components of all three
            await run(deploy_applications, deploy_input(ref, spec, "app", ready, layer), watches=watches)
        kinds = ("GET components", "GET gkeclusters", "GET applications")
        read = lab.kube.requests_since(before, *kinds)
    finally:
        watches.stop()

    # The Application's first look is what creating it returned, then the watch: no GET either. (The
    # workload layer's claims of every kind: test_an_experiments_claims_come_from_the_store_….)
    assert read == dict.fromkeys(kinds, 0)
    # The same outcome as reading them from the API: metrics-agent (obs) makes the namespace privileged.
    for layer in ("infra", "obs", "workload"):
        labels = application(lab, names.app_name(ref, "app", layer))["spec"]["syncPolicy"]["managedNamespaceMetadata"]
        assert labels["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_a_component_the_store_lacks_is_read_from_the_api_and_its_changes_reach_later_reads(lab: Lab) -> None:
    api = lab.kube.api_client()
    lab.watches.stored(COMPONENTS, "hello-app")  # the informer runs, whatever ran before
    name = unique_name("component-")
    body: dict[str, Any] = from_directory(REPO / "components").components["hello-app"].to_wire()
    body["metadata"] = {"name": name}
    custom = lab.custom()
    custom.create_cluster_custom_object(API_GROUP, API_VERSION, "components", body)
    try:
        # At once, before any watch event can have arrived: the store does not decide that it is missing.
        assert read_component(api, name, lab.watches).spec.pod_security != PodSecurityLevel.PRIVILEGED

        patch = {"spec": {"podSecurity": "privileged"}}
        custom.patch_cluster_custom_object(API_GROUP, API_VERSION, "components", name, patch)
        eventually(
            lambda: read_component(api, name, lab.watches).spec.pod_security == PodSecurityLevel.PRIVILEGED,
            30,
            "the changed Component in later reads",
        )
    finally:
        custom.delete_cluster_custom_object(API_GROUP, API_VERSION, "components", name)

    def gone() -> bool:
        try:
            read_component(api, name, lab.watches)
        except ApplicationFailed as failure:
            assert name in str(failure)
            return True
        return False  # the store has not seen the deletion yet

    eventually(gone, 30, "the deleted Component gone from reads")


@pytest.mark.asyncio
async def test_kubeconfig_takes_the_claim_from_the_store_and_the_current_connection_secret(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec()
    ref = create_experiment(lab, kube_namespace, doc)
    claim = (await provisioned(lab, ref, ExperimentSpec.model_validate(doc)))["app"].kubeconfig_secret or ""
    api = lab.kube.api_client()
    uncached = read_kubeconfig(api, "gke", claim)
    eventually(lambda: lab.watches.stored(watched_claims(claim_kind("gke")), claim), 30, "the claim in the store")

    before = lab.kube.requests()
    assert read_kubeconfig(api, "gke", claim, lab.watches) == uncached
    assert lab.kube.requests_since(before, "GET gkeclusters", "GET secrets") == {"GET gkeclusters": 0, "GET secrets": 1}

    # The cluster's endpoint moves (the Secret is rewritten): the very next read has the new one.
    xr = lab.custom().get_namespaced_custom_object("illm.io", "v1alpha1", names.CLAIM_NAMESPACE, "gkeclusters", claim)[
        "spec"
    ]["resourceRef"]["name"]
    moved = {"endpoint": base64.b64encode(b"10.20.30.40:6443").decode()}
    lab.core().patch_namespaced_secret(f"{xr}-cluster-conn", names.CONNECTION_NAMESPACE, {"data": moved})
    server = yaml.safe_load(read_kubeconfig(api, "gke", claim, lab.watches))["clusters"][0]["cluster"]["server"]
    assert server == "https://10.20.30.40:6443"


def test_a_claim_the_store_lacks_is_read_from_the_api(lab: Lab) -> None:
    with pytest.raises(ApiException) as raised:
        read_kubeconfig(lab.kube.api_client(), "gke", unique_name("no-claim-"), lab.watches)
    assert raised.value.status == 404


@pytest.mark.asyncio
async def test_an_experiments_claims_come_from_the_store_only_when_it_holds_the_callers_own(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec()
    ref = create_experiment(lab, kube_namespace, doc)
    claim = (await provisioned(lab, ref, ExperimentSpec.model_validate(doc)))["app"].kubeconfig_secret or ""
    api = Counting(lab.kube.api_client().configuration)  # this test's own reads, not others' (informers relist)
    kinds = [watched_claims(claim_kind(kind)) for kind in ("gke", "eks", "aks")]
    eventually(lambda: lab.watches.stored(kinds[0], claim), 30, "the claim in the store")
    for kind in kinds[1:]:
        eventually(lambda kind=kind: lab.watches.stored_all(kind) is not None, 30, f"{kind.title} listed")

    stored = experiment_claims(api, ref, lab.watches, including=claim)
    assert api.calls == []
    assert [c["metadata"]["name"] for c in stored] == [claim]

    # A store that lacks the caller's own claim may lack the others too (one behind): the API is asked.
    assert experiment_claims(api, ref, lab.watches, including=unique_name("not-yet-seen-")) == stored
    assert sorted(url.rsplit("/", 1)[-1] for method, url in api.calls if method == "GET") == [
        "aksclusters",
        "eksclusters",
        "gkeclusters",
    ]


class Counting(client.ApiClient):
    """A real client that notes each request it makes (method, path)."""

    def __init__(self, configuration: client.Configuration) -> None:
        super().__init__(configuration)
        self.calls: list[tuple[str, str]] = []

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, urlsplit(url).path))
        return super().call_api(method, url, *args, **kwargs)


@pytest.mark.asyncio
async def test_a_target_is_registered_with_argocd_once_for_all_its_layers_and_again_by_a_restarted_worker(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec([observed_gke_app()])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = (await provisioned(lab, ref, spec))["app"]
    secret = names.argocd_cluster_secret(ready.kubeconfig_secret or "")
    counted = ("POST secrets", "PUT secrets", "GET secrets")

    # The obs and workload layers (infra would also copy the Tailscale Secret): the first layer reads the
    # connection Secret and creates the cluster Secret; the workload layer of a lone target needs neither.
    before = lab.kube.requests()
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "obs"), watches=lab.watches)
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "workload"), watches=lab.watches)
    assert lab.kube.requests_since(before, *counted) == {"POST secrets": 1, "PUT secrets": 0, "GET secrets": 1}
    written = lab.core().read_namespaced_secret(secret, names.ARGOCD_NAMESPACE)

    REGISTERED.forget()  # a worker started now: it writes the Secret again, the same
    before = lab.kube.requests()
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "workload"), watches=lab.watches)
    assert lab.kube.requests_since(before, *counted) == {"POST secrets": 1, "PUT secrets": 1, "GET secrets": 1}
    again = lab.core().read_namespaced_secret(secret, names.ARGOCD_NAMESPACE)
    assert (again.data, again.metadata.labels) == (written.data, written.metadata.labels)
