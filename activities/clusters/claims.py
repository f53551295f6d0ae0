"""The Crossplane claim kinds and how to find what a claim produced: its kubeconfig, its existence.

Shared by provisioning, deployment (cluster registration), tutorial discovery and cleanup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError

from activities.clusters.cloud_access import Cluster, cloud_kubeconfig
from activities.kube import (
    EXPERIMENT_UID_LABEL,
    CustomObjects,
    VersionCache,
    is_not_found,
    load_yaml,
    secret_text,
    uid_selector,
)
from activities.watches import HubWatches, Kind
from api import names
from api.experiment import ClusterType

CLAIM_GROUP, CLAIM_VERSION = "illm.io", "v1alpha1"


@dataclass(frozen=True)
class ClaimKind:
    kind: str
    plural: str


CLAIM_KINDS = {
    ClusterType.GKE: ClaimKind("GKECluster", "gkeclusters"),
    ClusterType.EKS: ClaimKind("EKSCluster", "eksclusters"),
    ClusterType.AKS: ClaimKind("AKSCluster", "aksclusters"),
}


class ClusterNotBound(ApplicationError):
    """The claim has no composite resource yet, so there is no connection Secret to read (retryable)."""

    def __init__(self, claim: str) -> None:
        super().__init__(f"claim {claim} is not bound to a composite resource yet", type="ClusterNotBound")


def claim_kind(cluster_type: str) -> ClaimKind:
    return CLAIM_KINDS[ClusterType(cluster_type)]


def watched_claims(kind: ClaimKind) -> Kind:
    """The claims of one kind, as the worker's informer watches them."""
    return Kind(CLAIM_GROUP, CLAIM_VERSION, kind.plural, names.CLAIM_NAMESPACE, kind.kind)


def read_kubeconfig(
    api: client.ApiClient, cluster_type: str, cluster_name: str, watches: HubWatches | None = None
) -> str:
    """The target's kubeconfig: claim → ``spec.resourceRef.name`` → ``experiment-connections/<xr>-cluster-conn``.

    Endpoint and CA come from the connection Secret (``endpoint``/``clusterCA`` keys, else its
    kubeconfig's cluster); the user is the provider's exec plugin, never the Secret's own credentials
    (see :mod:`activities.clusters.cloud_access`). With ``watches`` the claim comes from the claims'
    informer when its copy is bound (read several times per experiment); the connection Secret is
    always read from the API (the worker may get it, not list or watch that namespace's Secrets).
    """
    kind = claim_kind(cluster_type)
    claim = _bound_claim(api, kind, cluster_name, watches)
    xr = _composite_of(claim)
    if not xr:
        raise ClusterNotBound(cluster_name)
    secret = client.CoreV1Api(api).read_namespaced_secret(f"{xr}-cluster-conn", names.CONNECTION_NAMESPACE)
    region = (claim.get("spec") or {}).get("region")
    meta = secret.metadata or client.V1ObjectMeta()
    version = (meta.uid, meta.resource_version, str(cluster_type), region)
    return _KUBECONFIGS.get(version, lambda: _target_kubeconfig(secret, str(cluster_type), xr, region))


def _target_kubeconfig(secret: client.V1Secret, cluster_type: str, xr: str, region: str | None) -> str:
    kubeconfig = secret_text(secret, "kubeconfig")
    if cluster_type == ClusterType.AKS and kubeconfig and _has_static_credentials(kubeconfig):
        return kubeconfig  # AKS with local accounts: the admin kubeconfig works as it is
    server, ca = _server_and_ca(secret)
    if not server:
        raise ApplicationError(f"connection Secret {xr}-cluster-conn has no endpoint yet", type="NoKubeconfig")
    return cloud_kubeconfig(Cluster(cluster_type, f"illm-{xr}", region), server, ca)


KUBECONFIG_CACHE = 256
"""Connection Secret versions whose kubeconfig is kept (a few per live target cluster)."""
_KUBECONFIGS: VersionCache[str] = VersionCache(KUBECONFIG_CACHE)


def _bound_claim(api: client.ApiClient, kind: ClaimKind, name: str, watches: HubWatches | None) -> dict[str, Any]:
    """The informer's copy if it is bound to a composite; else the API's (a store that lags never decides)."""
    stored = watches.stored(watched_claims(kind), name) if watches else None
    if stored is not None and _composite_of(stored):
        return stored
    return CustomObjects(api).get(CLAIM_GROUP, CLAIM_VERSION, names.CLAIM_NAMESPACE, kind.plural, name)


def _composite_of(claim: dict[str, Any]) -> str | None:
    return ((claim.get("spec") or {}).get("resourceRef") or {}).get("name")


def _has_static_credentials(kubeconfig: str) -> bool:
    doc = load_yaml(kubeconfig)
    context = next(x for x in doc["contexts"] if x["name"] == doc["current-context"])["context"]
    user = next(x for x in doc["users"] if x["name"] == context["user"])["user"] or {}
    return bool(user.get("client-certificate-data") or user.get("token"))


def _server_and_ca(secret: client.V1Secret) -> tuple[str | None, str | None]:
    endpoint, ca = secret_text(secret, "endpoint"), secret_text(secret, "clusterCA")  # clusterCA: base64 PEM
    kubeconfig = secret_text(secret, "kubeconfig")
    if kubeconfig:
        doc = load_yaml(kubeconfig)
        context = next(x for x in doc["contexts"] if x["name"] == doc["current-context"])["context"]
        cluster = next(x for x in doc["clusters"] if x["name"] == context["cluster"])["cluster"]
        endpoint, ca = endpoint or cluster.get("server"), ca or cluster.get("certificate-authority-data")
    if endpoint and not endpoint.startswith("https://"):
        endpoint = f"https://{endpoint}"
    return endpoint, ca


def delete_claim(api: client.ApiClient, cluster_type: str, cluster_name: str) -> bool:
    """Ask for deletion; False when the claim is already gone. Waiting is the caller's business."""
    kind = claim_kind(cluster_type)
    return CustomObjects(api).delete(CLAIM_GROUP, CLAIM_VERSION, names.CLAIM_NAMESPACE, kind.plural, cluster_name)


def claim_exists(api: client.ApiClient, cluster_type: str, cluster_name: str) -> bool:
    kind = claim_kind(cluster_type)
    try:
        CustomObjects(api).get(CLAIM_GROUP, CLAIM_VERSION, names.CLAIM_NAMESPACE, kind.plural, cluster_name)
    except ApiException as exc:
        if is_not_found(exc):
            return False
        raise
    return True


def experiment_claims(
    api: client.ApiClient, ref: names.ExperimentIdentity, watches: HubWatches | None = None, including: str = ""
) -> list[dict[str, Any]]:
    """Every claim of this Experiment object (by its uid label), of any kind (for cross-cluster kubeconfigs).

    With ``watches``, from the claims' informers once each has synced and ``including`` (the name of a
    claim known to exist: the caller's own target's) is among what they hold: the claims were created,
    and seen Ready, before any cluster is deployed to, so a store that has the caller's claim has the
    others too. Otherwise (an informer still listing, one behind) listed from the API, one LIST per kind.
    Do not mutate the claims returned.
    """
    if watches is not None:
        stored: list[dict[str, Any]] = []
        for kind in CLAIM_KINDS.values():
            found = watches.informer(watched_claims(kind)).select(EXPERIMENT_UID_LABEL, ref.uid)
            if found is None:
                break
            stored += found
        else:
            if not including or any(c["metadata"]["name"] == including for c in stored):
                return stored
    custom = CustomObjects(api)
    selector = uid_selector(ref)
    return [
        claim
        for kind in CLAIM_KINDS.values()
        for claim in custom.list(CLAIM_GROUP, CLAIM_VERSION, kind.plural, names.CLAIM_NAMESPACE, selector)
    ]
