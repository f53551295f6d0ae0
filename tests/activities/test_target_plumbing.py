"""Target plumbing: tutorial service discovery on hub and remote targets, and the Tailscale secret copy."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from activities.clusters.contracts import DiscoverTutorialServicesInput, TutorialTarget
from activities.clusters.target_plumbing import copy_tailscale_secret, discover_tutorial_services
from activities.settings import ActivitySettings
from api.experiment import DiscoveredService, ExperimentSpec, TutorialServiceRef
from tests.activities.conftest import Lab, create_experiment, gke_spec, provisioned, run

pytestmark = pytest.mark.kube


def make_service(lab: Lab, namespace: str, name: str, port: int) -> str:
    body = client.V1Service(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=port)], selector={"app": name}),
    )
    return str(lab.core().create_namespaced_service(namespace, body).spec.cluster_ip)


@pytest.mark.asyncio
async def test_tutorial_services_are_discovered_on_remote_and_hub_targets(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec(
        [{"name": "app", "cluster": {"type": "gke"}}, {"name": "hub", "cluster": {"type": "hub"}}],
    )
    ref = create_experiment(lab, kube_namespace, doc)
    ready = await provisioned(lab, ref, ExperimentSpec.model_validate(doc))
    grafana_ip = make_service(lab, kube_namespace, "grafana", 3000)
    web_ip = make_service(lab, kube_namespace, "web", 80)
    refs = [
        TutorialServiceRef(name="Grafana", target="app", service="grafana", namespace=kube_namespace),
        TutorialServiceRef(name="Web", target="hub", service="web", namespace=kube_namespace),
        TutorialServiceRef(name="Missing", target="app", service="nope", namespace=kube_namespace),
    ]
    targets = [
        TutorialTarget(name="app", cluster_type="gke", cluster_name=ready["app"].kubeconfig_secret or ""),
        TutorialTarget(name="hub", cluster_type="hub", cluster_name="hub"),
    ]

    found = await run(
        discover_tutorial_services,
        DiscoverTutorialServicesInput(experiment=ref, services=refs, targets=targets),
        watches=lab.watches,
    )

    assert found.services == [
        DiscoveredService(name="Grafana", endpoint=f"http://{grafana_ip}:3000", ready=True),
        DiscoveredService(name="Web", endpoint=f"http://{web_ip}", ready=True),
        DiscoveredService(name="Missing", endpoint=None, ready=False),
    ]


def test_tailscale_oauth_secret_is_copied_to_the_target(lab: Lab, kube_namespace: str) -> None:
    hub = lab.kube.api_client()
    source = client.V1Secret(
        metadata=client.V1ObjectMeta(name="operator-oauth"),
        type="Opaque",
        data={"client_id": base64.b64encode(b"id").decode()},
    )
    try:
        lab.core().create_namespaced_secret("tailscale", source)
    except client.ApiException as exc:
        assert exc.status == 409
    kubeconfig = lab.kube.kubeconfig.read_text()
    copy_tailscale_secret(hub, kubeconfig, ActivitySettings())  # the target is the same API server in the lab
    copied = lab.core().read_namespaced_secret("operator-oauth", "tailscale")
    assert copied.type == "Opaque" and copied.data["client_id"] == base64.b64encode(b"id").decode()
