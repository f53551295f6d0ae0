"""Deterministic names shared by the workflow, the activities and the CRD gateway.

Every object an experiment creates is named from the Experiment alone, so a retried activity finds
what an earlier attempt created and cleanup can delete it without having been told it exists.
Names follow the original operator (seed §3) so its dashboards, WorkflowTemplates and site keep working.
"""

from __future__ import annotations

CLAIM_NAMESPACE = "experiments"
ARGOCD_NAMESPACE = "argocd"
ARGO_WORKFLOWS_NAMESPACE = "argo-workflows"
ANALYZER_NAMESPACE = "experiment-operator-system"
RESULTS_BUCKET = "experiment-results"
HUB_CLUSTER_NAME = "hub"
LAYERS = ("infra", "obs", "workload")


def workflow_id(namespace: str, name: str, uid: str) -> str:
    """One Temporal workflow per Experiment object; the uid keeps a re-created namesake apart."""
    return f"experiment-{namespace}-{name}-{uid}"


def claim_name(experiment: str, target: str) -> str:
    """Crossplane GKECluster claim (namespace ``experiments``)."""
    return f"{experiment}-{target}"


def cluster_name(experiment: str, target: str, cluster_type: str) -> str:
    """The cluster as ArgoCD and the status know it; the hub is always ``hub``."""
    return HUB_CLUSTER_NAME if cluster_type == "hub" else claim_name(experiment, target)


def argocd_cluster_secret(cluster: str) -> str:
    return f"cluster-{cluster}"


def app_name(experiment: str, target: str, layer: str = "workload") -> str:
    """ArgoCD Application: ``<exp>-<target>`` for the workload (or single) app, ``-infra`` / ``-obs`` for layers."""
    return f"{experiment}-{target}" if layer == "workload" else f"{experiment}-{target}-{layer}"


def argo_workflow_name(experiment: str) -> str:
    return f"{experiment}-validation"


def results_prefix(experiment: str) -> str:
    return f"{experiment}/"


def results_url(experiment: str, bucket: str = RESULTS_BUCKET) -> str:
    return f"s3://{bucket}/{results_prefix(experiment)}"


def summary_key(experiment: str) -> str:
    return f"{experiment}/summary.json"


def metrics_snapshot_key(experiment: str) -> str:
    return f"{experiment}/metrics-snapshot.json"


def publish_branch(experiment: str) -> str:
    return f"experiment/{experiment}"


def analysis_job_name(experiment: str) -> str:
    return f"experiment-analyzer-{experiment}"[:63]


def kubeconfig_secret(experiment: str, target: str) -> str:
    return f"{experiment}-{target}-kubeconfig"


def cross_cluster_kubeconfig_secret(source_target: str) -> str:
    return f"{source_target}-cluster-kubeconfig"
