"""What a target cluster needs besides its Applications, as the original did it (seed §2.2 step C, §2.4, §3.13).

RBAC bootstrap, the Tailscale OAuth Secret copy, cross-cluster kubeconfig Secrets, tutorial kubeconfig
Secrets (owned by the Experiment, so deleting it removes them) and tutorial service discovery, for hub
and remote targets. Kubeconfigs are read from connection Secrets by the caller and never leave the
activity. Everything except discovery is best effort, as in the original: a failure is logged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.clusters.claims import read_kubeconfig
from activities.clusters.cloud_access import target_client
from activities.clusters.contracts import DiscoveredTutorialServices, DiscoverTutorialServicesInput
from activities.contracts import ExperimentRef
from activities.kube import (
    CustomObjects,
    apply_secret,
    ensure_namespace,
    experiment_labels,
    hub_client,
    is_conflict,
    is_not_found,
)
from activities.settings import ActivitySettings
from activities.watches import HubWatches
from api import names
from api.base import API_GROUP, API_VERSION, GROUP_VERSION
from api.experiment import ClusterType, DiscoveredService, ExperimentSpec, TutorialServiceRef

log = logging.getLogger(__name__)
CLIENT_ADMIN_BINDING = "experiment-client-admin"
TAILSCALE_NAMESPACE = "tailscale"
TAILSCALE_SECRET = "operator-oauth"


def bootstrap_rbac(kubeconfig: str, settings: ActivitySettings) -> None:
    """Bind User ``client`` (the GKE client certificate) to cluster-admin on the target, best effort."""
    body = client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=CLIENT_ADMIN_BINDING),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"),
        subjects=[client.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name="client")],
    )
    try:
        with target_client(kubeconfig, settings) as api:
            client.RbacAuthorizationV1Api(api).create_cluster_role_binding(body)
    except ApiException as exc:
        if not is_conflict(exc):
            log.warning("RBAC bootstrap failed (%s %s); continuing as the original did", exc.status, exc.reason)


def read_experiment_spec(api: client.ApiClient, ref: ExperimentRef) -> ExperimentSpec | None:
    """The Experiment's current spec, if the object with this uid still exists."""
    try:
        obj = CustomObjects(api).get(API_GROUP, API_VERSION, ref.namespace, "experiments", ref.name)
    except ApiException as exc:
        if is_not_found(exc):
            return None
        raise
    if obj["metadata"].get("uid") != ref.uid:
        return None
    return ExperimentSpec.model_validate(obj["spec"])


def write_tutorial_kubeconfig(api: client.ApiClient, ref: ExperimentRef, target: str, kubeconfig: str) -> str:
    """Hub Secret ``<exp>-<target>-kubeconfig-<hash>`` next to the Experiment, owned by it."""
    name = names.kubeconfig_secret(ref, target)
    owner = client.V1OwnerReference(api_version=GROUP_VERSION, kind="Experiment", name=ref.name, uid=ref.uid)
    labels = {"experiment": names.experiment_label(ref), "target": target, **experiment_labels(ref)}
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=labels, owner_references=[owner]),
        type="Opaque",
        data={"kubeconfig": base64.b64encode(kubeconfig.encode()).decode()},
    )
    apply_secret(api, ref.namespace, body)
    return name


def copy_tailscale_secret(hub: client.ApiClient, kubeconfig: str, settings: ActivitySettings) -> None:
    """Hub ``tailscale/operator-oauth`` (data and type) to the same place on the target, best effort."""
    try:
        source = client.CoreV1Api(hub).read_namespaced_secret(TAILSCALE_SECRET, TAILSCALE_NAMESPACE)
        copy = client.V1Secret(metadata=client.V1ObjectMeta(name=TAILSCALE_SECRET), type=source.type, data=source.data)
        with target_client(kubeconfig, settings) as api:
            ensure_namespace(api, TAILSCALE_NAMESPACE)
            apply_secret(api, TAILSCALE_NAMESPACE, copy)
    except ApiException as exc:
        log.warning("Tailscale secret copy failed (%s %s); continuing as the original did", exc.status, exc.reason)


def write_cross_cluster_kubeconfigs(
    ref: ExperimentRef, kubeconfig: str, sources: Mapping[str, str], settings: ActivitySettings
) -> list[str]:
    """On one target, Secret ``<source>-cluster-kubeconfig`` in the workload namespace per other target."""
    written = []
    namespace = names.workload_namespace(ref)
    labels = {"experiment": names.experiment_label(ref), **experiment_labels(ref)}
    with target_client(kubeconfig, settings) as api:
        if sources:
            ensure_namespace(api, namespace, experiment_labels(ref))
        for source, source_kubeconfig in sorted(sources.items()):
            name = names.cross_cluster_kubeconfig_secret(source)
            body = client.V1Secret(
                metadata=client.V1ObjectMeta(name=name, labels=labels),
                type="Opaque",
                data={"kubeconfig": base64.b64encode(source_kubeconfig.encode()).decode()},
            )
            apply_secret(api, namespace, body)
            written.append(name)
    return written


def service_endpoint(service: client.V1Service, port: int | None) -> str | None:
    """LoadBalancer ingress IP or hostname, else ClusterIP; ``http://host`` for ports 0/80/443, else host:port."""
    spec = service.spec or client.V1ServiceSpec()
    host: str | None = None
    if spec.type == "LoadBalancer":
        ingress = ((service.status or client.V1ServiceStatus()).load_balancer or client.V1LoadBalancerStatus()).ingress
        if ingress:
            host = ingress[0].ip or ingress[0].hostname
    else:
        host = spec.cluster_ip
    if not host or host == "None":
        return None
    port = port or (spec.ports[0].port if spec.ports else 0)
    return f"http://{host}" if port in (0, 80, 443) else f"http://{host}:{port}"


# ------------------------------------------------------------------------ tutorial discovery activity


async def discover_tutorial_services(
    inp: DiscoverTutorialServicesInput, settings: ActivitySettings, watches: HubWatches
) -> DiscoveredTutorialServices:
    """Resolve each tutorial service on its target, hub or remote (the original skipped remote targets)."""
    return await asyncio.to_thread(_discover, settings, inp, watches)


def _discover(
    settings: ActivitySettings, inp: DiscoverTutorialServicesInput, watches: HubWatches
) -> DiscoveredTutorialServices:
    targets = {t.name: t for t in inp.targets}
    found = []
    with hub_client(settings) as hub:
        for ref in inp.services:
            # Workloads run in a namespace derived from the Experiment object (api.names), which a file
            # cannot spell: `$EXPERIMENT` / `${EXPERIMENT}` in the namespace stand for it.
            workloads = names.workload_namespace(inp.experiment)
            namespace = ref.namespace.replace("${EXPERIMENT}", workloads).replace("$EXPERIMENT", workloads)
            ref = ref.model_copy(update={"namespace": namespace})
            target = targets.get(ref.target)
            endpoint: str | None = None
            try:
                if target is None:
                    pass
                elif target.cluster_type == ClusterType.HUB:
                    endpoint = _endpoint_on(hub, ref)
                else:
                    kubeconfig = read_kubeconfig(hub, target.cluster_type, target.cluster_name, watches)
                    with target_client(kubeconfig, settings) as api:
                        endpoint = _endpoint_on(api, ref)
            except ApiException as exc:
                if not is_not_found(exc):
                    raise
            found.append(DiscoveredService(name=ref.name, endpoint=endpoint, ready=endpoint is not None))
    return DiscoveredTutorialServices(services=found)


def _endpoint_on(api: client.ApiClient, ref: TutorialServiceRef) -> str | None:
    return service_endpoint(client.CoreV1Api(api).read_namespaced_service(ref.service, ref.namespace), ref.port)
