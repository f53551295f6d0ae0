"""Deterministic names shared by the workflow, the activities, the CRD gateway and the lab simulator.

Every object an experiment creates is named from the Experiment's *identity* — namespace, name and
uid — so a retried activity finds what an earlier attempt created, cleanup can delete it without
having been told it exists, and two Experiments never share an object: not twins with the same name
in two namespaces, not a re-created namesake. A name is a readable prefix taken from the original's
scheme (seed §3: ``<exp>-<target>``, ``<exp>-validation`` …) plus a short hash of the identity; the
prefix is cut so the whole name fits the limit of the place it goes to, so no valid Experiment is
ever refused for the length of a name derived from it. Pure functions: no I/O, safe in workflows.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

CLAIM_NAMESPACE = "experiments"
ARGOCD_NAMESPACE = "argocd"
ARGOCD_PROJECT = "experiments"
"""The AppProject of Applications on the hub (deploy/base/argocd-projects.yaml): experiment namespaces only
(``workload_namespace``: ``*-<8 hex>``), namespaced kinds only. ArgoCD's side of the worker's least privilege."""
ARGOCD_CLUSTERS_PROJECT = "experiment-clusters"
"""The AppProject of Applications on provisioned clusters: any registered cluster except the hub."""
CONNECTION_NAMESPACE = "experiment-connections"
"""Where the compositions write the clusters' connection Secrets and the worker's cloud credentials live:
the only namespace in which the worker may read Secrets (deploy/base/worker-rbac.yaml)."""
ARGO_WORKFLOWS_NAMESPACE = "argo-workflows"
ANALYZER_NAMESPACE = "experiment-operator-system"
RESULTS_BUCKET = "experiment-results"
HUB_CLUSTER_NAME = "hub"
EXPERIMENT_UID_LABEL = "experiments.illm.io/experiment-uid"
"""On everything created for an Experiment: which object it belongs to (twins with one name differ here)."""
LAYERS = ("infra", "obs", "workload")

DNS_LABEL_MAX = 63
"""Namespaces, label values, and names other tools turn into label values (claims, Applications, Workflows)."""
DNS_SUBDOMAIN_MAX = 253
"""Most other object names (Secrets, ConfigMaps)."""
CLOUD_NAME_LIMITS = {"gke": 40, "eks": 100, "aks": 63}
"""Longest cluster name each provider accepts (GKE 40, EKS 100, AKS 63 characters)."""
CLOUD_NAME_PREFIX = "illm-"
"""Cloud cluster names start with it, as the original's did: a letter first satisfies every provider."""
HASH_LENGTH = 8

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


class ExperimentIdentity(Protocol):
    """Which Experiment object: anything with its namespace, name and uid (e.g. ``ExperimentRef``)."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...


@dataclass(frozen=True)
class Identity:
    """An ``ExperimentIdentity`` built from parts (a summary.json, an object's metadata)."""

    namespace: str
    name: str
    uid: str


def identity_hash(identity: ExperimentIdentity, *parts: str) -> str:
    """Eight hex characters of SHA-256 over namespace, name, uid (and ``parts``, e.g. the target)."""
    text = "/".join((identity.namespace, identity.name, identity.uid, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def fit(readable: str, limit: int, digest: str) -> str:
    """``<readable>-<digest>`` in at most ``limit`` characters of ``[a-z0-9-]``, starting and ending alphanumeric.

    The readable part is cut (never the digest): it tells a person what the object is, the digest
    makes it the one object of one Experiment.
    """
    room = limit - len(digest) - 1
    prefix = _NOT_DNS.sub("-", readable.lower())[:room].strip("-")
    return f"{prefix}-{digest}" if prefix else digest


def workflow_id(namespace: str, name: str, uid: str) -> str:
    """One Temporal workflow per Experiment object; the uid keeps a re-created namesake apart."""
    return f"experiment-{namespace}-{name}-{uid}"


def experiment_label(identity: ExperimentIdentity) -> str:
    """The ``experiments.illm.io/experiment`` label value: the name itself when it fits a label (63)."""
    name = identity.name
    if len(name) <= DNS_LABEL_MAX:
        return name
    return fit(name, DNS_LABEL_MAX, identity_hash(identity))


def claim_name(identity: ExperimentIdentity, target: str) -> str:
    """Crossplane claim in namespace ``experiments``: ``<exp>-<target>-<hash>`` (Crossplane labels with it: 63)."""
    return fit(f"{identity.name}-{target}", DNS_LABEL_MAX, identity_hash(identity, target))


def cluster_name(identity: ExperimentIdentity, target: str, cluster_type: str) -> str:
    """The cluster as ArgoCD and the status know it (the claim's name); the hub is always ``hub``."""
    return HUB_CLUSTER_NAME if cluster_type == "hub" else claim_name(identity, target)


def cloud_cluster_name(identity: ExperimentIdentity, target: str, cluster_type: str) -> str:
    """The name the cloud gives the cluster: ``illm-<exp>-<target>-<hash>`` within the provider's limit.

    Lower-case letters, digits and ``-``, a letter first and a digit or letter last: valid for GKE
    (``[a-z]([-a-z0-9]*[a-z0-9])?``, 40), EKS (``[0-9A-Za-z][A-Za-z0-9_-]*``, 100) and AKS (63).
    """
    limit = CLOUD_NAME_LIMITS[cluster_type]
    return fit(f"{CLOUD_NAME_PREFIX}{identity.name}-{target}", limit, identity_hash(identity, target))


def argocd_cluster_secret(cluster: str) -> str:
    return f"cluster-{cluster}"


def app_name(identity: ExperimentIdentity, target: str, layer: str = "workload") -> str:
    """ArgoCD Application ``<exp>-<target>-<hash>`` (workload or single app), ``<exp>-<target>-<layer>-<hash>``.

    63 at most: ArgoCD writes the name into the ``app.kubernetes.io/instance`` label of what it deploys.
    """
    readable = f"{identity.name}-{target}" if layer == "workload" else f"{identity.name}-{target}-{layer}"
    return fit(readable, DNS_LABEL_MAX, identity_hash(identity, target, layer))


def argo_workflow_name(identity: ExperimentIdentity) -> str:
    """``<exp>-validation-<hash>``; Argo labels the Workflow's pods with it (63)."""
    return fit(f"{identity.name}-validation", DNS_LABEL_MAX, identity_hash(identity))


def workload_namespace(identity: ExperimentIdentity) -> str:
    """``<exp>-<hash>``: where the Experiment's Applications deploy, on the hub and on its targets."""
    return fit(identity.name, DNS_LABEL_MAX, identity_hash(identity))


def results_prefix(identity: ExperimentIdentity) -> str:
    """``<namespace>/<name>/<uid>/`` in the results bucket: every object's results stay, re-created or not."""
    return f"{identity.namespace}/{identity.name}/{identity.uid}/"


def results_url(identity: ExperimentIdentity, bucket: str = RESULTS_BUCKET) -> str:
    return f"s3://{bucket}/{results_prefix(identity)}"


def summary_key(identity: ExperimentIdentity) -> str:
    return f"{results_prefix(identity)}summary.json"


def metrics_snapshot_key(identity: ExperimentIdentity) -> str:
    return f"{results_prefix(identity)}metrics-snapshot.json"


def publish_branch(experiment: str) -> str:
    """The results PR's branch stays ``experiment/<exp>``: the site and reviewers know experiments by name."""
    return f"experiment/{experiment}"


def analysis_job_name(identity: ExperimentIdentity) -> str:
    return fit(f"experiment-analyzer-{identity.name}", DNS_LABEL_MAX, identity_hash(identity))


def kubeconfig_secret(identity: ExperimentIdentity, target: str) -> str:
    """Tutorial kubeconfig Secret next to the Experiment: ``<exp>-<target>-kubeconfig-<hash>``."""
    return fit(f"{identity.name}-{target}-kubeconfig", DNS_SUBDOMAIN_MAX, identity_hash(identity, target))


def cross_cluster_kubeconfig_secret(source_target: str) -> str:
    """On a target, in the workload namespace: the name WorkflowTemplates and workloads mount, unchanged."""
    return f"{source_target}-cluster-kubeconfig"
