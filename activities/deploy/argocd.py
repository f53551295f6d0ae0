"""ArgoCD: cluster registration Secrets and one multi-source Application per target and layer.

Names, labels and sync policy are the original's (seed §3.2). Additions: the resources finalizer, so
deleting an Application removes what it deployed (the original orphaned workloads), and
``managedNamespaceMetadata`` so the destination namespace gets its labels on the target itself (the
original labelled a namespace on the hub instead), Pod Security ``baseline`` unless a Component of the
target declares ``podSecurity: privileged`` (the original made every one ``privileged``), and our own
AppProjects instead of the unrestricted ``default``: ``experiments`` on the hub (experiment namespaces,
namespaced kinds), ``experiment-clusters`` on provisioned clusters (deploy/base/argocd-projects.yaml).
``deploy_applications`` creates or updates the layer's Application and waits until it is healthy —
Healthy and Synced by default, or the original's lenient rule with ``ARGOCD_HEALTH_RULE=lenient``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.clusters import target_plumbing
from activities.clusters.claims import experiment_claims, read_kubeconfig
from activities.clusters.cloud_access import EXEC_API, cluster_of_exec
from activities.contracts import ExperimentRef
from activities.deploy.component_sources import argocd_sources, read_component
from activities.deploy.contracts import DeployApplicationsInput, DeployedApplications
from activities.deploy.observability import layer_refs
from activities.errors import ApplicationFailed
from activities.heartbeating import heartbeating
from activities.kube import (
    CLUSTER_LABEL,
    LAYER_LABEL,
    MANAGED_BY,
    TARGET_LABEL,
    CustomObjects,
    apply_secret,
    experiment_labels,
    hub_client,
    is_conflict,
    is_not_found,
)
from activities.settings import ActivitySettings, HealthRule
from activities.watches import HubWatches, Kind, Obj, Waiting
from api import names
from api.component import Component, PodSecurityLevel
from api.experiment import ClusterType, Transport

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"
IN_CLUSTER = "https://kubernetes.default.svc"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce"
APPLICATIONS = Kind(GROUP, VERSION, PLURAL, names.ARGOCD_NAMESPACE, "Application")


def cluster_secret(ref: ExperimentRef, cluster: str, endpoint: str, kubeconfig: str) -> client.V1Secret:
    """``argocd/cluster-<cluster>`` in ArgoCD's declarative format, credentials from the current context.

    A provider exec user becomes ArgoCD's own provider auth, so ArgoCD uses its identity and no token
    is stored: GKE and AKS ``execProviderConfig`` with ``argocd-k8s-auth gcp|azure``, EKS
    ``awsAuthConfig`` (ArgoCD presigns the STS token itself). Other users keep the original's fields.
    """
    doc = yaml.safe_load(kubeconfig)
    context = next(x for x in doc["contexts"] if x["name"] == doc["current-context"])["context"]
    kube_cluster = next(x for x in doc["clusters"] if x["name"] == context["cluster"])["cluster"]
    user = next(x for x in doc["users"] if x["name"] == context["user"])["user"]
    tls = {
        "caData": kube_cluster.get("certificate-authority-data"),
        "certData": user.get("client-certificate-data"),
        "keyData": user.get("client-key-data"),
        "insecure": kube_cluster.get("insecure-skip-tls-verify"),
    }
    config: dict[str, Any] = {"tlsClientConfig": {k: v for k, v in tls.items() if v}}
    if user.get("token"):
        config["bearerToken"] = user["token"]
    cloud = cluster_of_exec(user)
    if cloud and cloud.type == "eks":
        config["awsAuthConfig"] = {"clusterName": cloud.name}
    elif cloud:
        args = ["gcp"] if cloud.type == "gke" else ["azure"]
        env = {"AAD_LOGIN_METHOD": "workloadidentity"} if cloud.type == "aks" else None
        exec_config = {"command": "argocd-k8s-auth", "args": args, "apiVersion": EXEC_API, "env": env}
        config["execProviderConfig"] = {k: v for k, v in exec_config.items() if v}
    return client.V1Secret(
        metadata=client.V1ObjectMeta(
            name=names.argocd_cluster_secret(cluster),
            labels={**experiment_labels(ref), "argocd.argoproj.io/secret-type": "cluster", CLUSTER_LABEL: cluster},
        ),
        type="Opaque",
        string_data={"name": cluster, "server": f"https://{endpoint}", "config": json.dumps(config, sort_keys=True)},
    )


def namespace_pod_security(components: list[Component]) -> PodSecurityLevel:
    """The most permissive level any Component of the target declares; ``baseline`` when none does.

    Over every layer of the target, not one: all layers share the namespace and its labels.
    """
    declared = {c.spec.pod_security for c in components}
    return PodSecurityLevel.PRIVILEGED if PodSecurityLevel.PRIVILEGED in declared else PodSecurityLevel.BASELINE


def build_application(
    inp: DeployApplicationsInput,
    server: str,
    sources: list[dict[str, Any]],
    pod_security: PodSecurityLevel = PodSecurityLevel.BASELINE,
) -> dict[str, Any]:
    ref, target = inp.experiment, inp.target.name
    labels = {**experiment_labels(ref), TARGET_LABEL: target}
    if inp.layered:
        labels[LAYER_LABEL] = inp.layer
    namespace_labels = {
        **MANAGED_BY,
        **experiment_labels(ref),
        POD_SECURITY_LABEL: str(pod_security),
        f"{POD_SECURITY_LABEL}-version": "latest",
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {
            "name": names.app_name(ref, target, inp.layer if inp.layered else "workload"),
            "namespace": names.ARGOCD_NAMESPACE,
            "labels": labels,
            "finalizers": [RESOURCES_FINALIZER],
        },
        "spec": {
            "project": names.ARGOCD_PROJECT if server == IN_CLUSTER else names.ARGOCD_CLUSTERS_PROJECT,
            "sources": sources,
            "destination": {"server": server, "namespace": names.workload_namespace(ref)},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                "managedNamespaceMetadata": {"labels": namespace_labels},
            },
        },
    }


def apply_application(custom: CustomObjects, app: dict[str, Any]) -> dict[str, Any]:
    """Create, or replace spec/labels/finalizers when they differ (an unchanged app is not written).

    Returns the Application as the API answered: the wait's first look.
    """
    name = app["metadata"]["name"]
    try:
        return custom.create(GROUP, VERSION, names.ARGOCD_NAMESPACE, PLURAL, app)
    except ApiException as exc:
        if not is_conflict(exc):
            raise
    current = custom.get(GROUP, VERSION, names.ARGOCD_NAMESPACE, PLURAL, name)
    meta = current["metadata"]
    if current.get("spec") == app["spec"] and (meta.get("labels") or {}) == app["metadata"]["labels"]:
        return current
    current["spec"] = app["spec"]
    meta["labels"] = app["metadata"]["labels"]
    meta["finalizers"] = sorted({*(meta.get("finalizers") or []), RESOURCES_FINALIZER})
    return custom.replace(GROUP, VERSION, names.ARGOCD_NAMESPACE, PLURAL, name, current)


def health_problem(app: dict[str, Any], rule: HealthRule) -> str | None:
    """None when healthy under ``rule``; else what is missing, for the heartbeat and the deadline message."""
    status = app.get("status") or {}
    health = (status.get("health") or {}).get("status")
    sync = (status.get("sync") or {}).get("status")
    errors = [x for x in status.get("conditions") or [] if str(x.get("type", "")).endswith("Error")]
    if rule == HealthRule.LENIENT:
        errors = [x for x in errors if x.get("type") == "ComparisonError"]
        ok = health in ("Healthy", "Degraded", "Progressing") and sync in ("Synced", "Unknown", "OutOfSync")
    else:
        ok = health == "Healthy" and sync == "Synced"
    if ok and not errors:
        return None
    message = (status.get("health") or {}).get("message")
    text = f"health {health or 'unknown'}{f' ({message})' if message else ''}, sync {sync or 'unknown'}"
    return text + "".join(f"; {x.get('type')}: {x.get('message', '')}" for x in errors)


async def deploy_applications(
    inp: DeployApplicationsInput, settings: ActivitySettings, watches: HubWatches
) -> DeployedApplications:
    """Create or update the layer's Application and wait (woken by the Applications' watch) until it is healthy.

    Permanent: a Component is missing or invalid, or the layer has components but none resolve to a source.
    """
    preparing = asyncio.to_thread(_prepare, settings, inp, watches)
    app = await heartbeating(preparing, f"registering {inp.target.name} and applying its {inp.layer} Application")
    if app is None:
        return DeployedApplications(target=inp.target.name, layer=inp.layer, applications=[])
    name = app["metadata"]["name"]

    def check(current: Obj | None) -> list[str] | Waiting:
        if current is None:
            return Waiting(f"Application {name} not found (deleted meanwhile?)")
        problem = health_problem(current, settings.argocd_health_rule)
        if problem:
            return Waiting(f"Application {name}: {problem}")
        resources = (current.get("status") or {}).get("resources") or []
        return [f"{r.get('kind')}/{r.get('name')}" for r in resources]

    components = await watches.until(APPLICATIONS, name, check, first=app)
    return DeployedApplications(target=inp.target.name, layer=inp.layer, applications=[name], components=components)


def _prepare(settings: ActivitySettings, inp: DeployApplicationsInput, watches: HubWatches) -> dict[str, Any] | None:
    """Resolve components, plumb the target, register it, and apply the Application (returned as the API
    has it); None if nothing to deploy."""
    refs = layer_refs(inp.experiment.name, inp.target, inp.layer, inp.layered, settings)
    if not refs:
        return None
    every_layer = layer_refs(inp.experiment.name, inp.target, inp.layer, False, settings)
    with hub_client(settings) as api:
        wanted = dict.fromkeys(r.component_name or "" for r in [*refs, *every_layer])
        components = {name: read_component(api, name, watches) for name in wanted}
        sources = [s for ref in refs for s in argocd_sources(components[ref.component_name or ""], ref.params)]
        pod_security = namespace_pod_security([components[r.component_name or ""] for r in every_layer])
        if not sources:
            listed = ", ".join(r.component_name or "?" for r in refs)
            raise ApplicationFailed(f"components {listed} of target {inp.target.name} resolve to no source")
        server = IN_CLUSTER
        if inp.target.cluster.type != ClusterType.HUB:
            server = f"https://{inp.endpoint}"
            _plumb_remote_target(api, inp, settings, watches)
        return apply_application(CustomObjects(api), build_application(inp, server, sources, pod_security))


def _plumb_remote_target(
    api: client.ApiClient, inp: DeployApplicationsInput, settings: ActivitySettings, watches: HubWatches
) -> None:
    """Register the target with ArgoCD (once per process, see :class:`Registrations`) and do the layer's plumbing.

    The target's kubeconfig (a connection Secret read) is read only by a step that needs it.
    """
    kubeconfig = functools.cache(lambda: read_kubeconfig(api, inp.target.cluster.type, inp.cluster_name, watches))
    REGISTERED.once(
        (names.argocd_cluster_secret(inp.cluster_name), inp.endpoint or ""),
        lambda: apply_secret(
            api,
            names.ARGOCD_NAMESPACE,
            cluster_secret(inp.experiment, inp.cluster_name, inp.endpoint or "", kubeconfig()),
        ),
    )
    obs = inp.target.observability
    if inp.layer == "infra" and obs and obs.transport == Transport.TAILSCALE:
        target_plumbing.copy_tailscale_secret(api, kubeconfig(), settings)
    if inp.layer == "workload":
        sources = _other_target_kubeconfigs(api, inp, watches)
        if sources:  # nothing to write on a target of its own
            target_plumbing.write_cross_cluster_kubeconfigs(inp.experiment, kubeconfig(), sources, settings)


class Registrations:
    """The cluster Secrets this worker process wrote: every layer of a target needs it registered, once is enough.

    The worker may write Secrets in ``argocd`` but not read them, so each layer used to write it blind
    (create, then a replace on 409: five requests for three layers). The Secret's name is unique to the
    Experiment object (its claim's name), and its content follows from the claim's connection Secret and
    endpoint, which do not change while it runs; so the first layer writes it and the others, keyed by
    name and endpoint, do not. Layers that run at once wait for the first write. A restarted worker writes
    it again (create → 409 → replace: the same content); only cleanup deletes it.
    """

    def __init__(self, kept: int = 4096) -> None:
        self.kept = kept
        self._done: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._writing: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def once(self, key: tuple[str, str], write: Callable[[], object]) -> bool:
        """Run ``write`` unless it succeeded for ``key`` before; True if it ran now."""
        with self._lock:
            if key in self._done:
                return False
            writing = self._writing.setdefault(key, threading.Lock())
        with writing:
            with self._lock:
                if key in self._done:
                    return False
            write()
            with self._lock:
                self._done[key] = None
                self._writing.pop(key, None)
                while len(self._done) > self.kept:
                    self._done.popitem(last=False)
        return True

    def forget(self) -> None:
        """As after a restart (tests)."""
        with self._lock:
            self._done.clear()


REGISTERED = Registrations()


def _other_target_kubeconfigs(
    api: client.ApiClient, inp: DeployApplicationsInput, watches: HubWatches
) -> dict[str, str]:
    """target → kubeconfig of every other provisioned target of the experiment (the original's pairs)."""
    found = {}
    for claim in experiment_claims(api, inp.experiment, watches, including=inp.cluster_name):
        target = (claim["metadata"].get("labels") or {}).get(TARGET_LABEL)
        if not target or target == inp.target.name:
            continue
        kind = claim["kind"].removesuffix("Cluster").lower()
        try:
            found[target] = read_kubeconfig(api, kind, claim["metadata"]["name"], watches)
        except ApiException as exc:
            if not is_not_found(exc):
                raise
    return found
