"""The simulator's knobs: timings, where metrics go, and the per-experiment fault annotation."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from api import names

CRD_DIR = Path(__file__).parent / "crds"
FAULT_ANNOTATION = "labsim.illm.io/fault"
"""Comma-separated :class:`Fault` values, on the Experiment or on one claim/Application/Workflow."""
PROVISION_RATIO = {"gkeclusters": 1.0, "eksclusters": 1.8, "aksclusters": 0.9}
"""Each provider's median create time relative to GKE's, as measured on the real services (GKE zonal
≈ 5–10 min, median ≈ 7; EKS control plane + node group ≈ 12–15 min; AKS ≈ 5–8 min)."""
EXPERIMENT_UID_LABEL = names.EXPERIMENT_UID_LABEL
"""Which Experiment object an object belongs to (twins with one name have different uids)."""
PLATFORM_NAMESPACES = (
    "experiments",
    names.CONNECTION_NAMESPACE,
    "argocd",
    "argo-workflows",
    "tailscale",
)


class Fault(StrEnum):
    PROVISION_FAIL = "provision-fail"
    """Claims report Synced=False/ReconcileError and never become Ready."""
    APP_DEGRADED = "app-degraded"
    """Applications sync but stay Degraded."""
    WORKFLOW_FAIL = "workflow-fail"
    """Workflows end Failed instead of Succeeded."""
    SLOW = "slow"
    """Every delay is multiplied by ``SimulatorConfig.slow_factor``."""


@dataclass(frozen=True)
class SimulatorConfig:
    kubeconfig: Path
    victoria_metrics_url: str | None = None
    """Where the simulated Alloy agents write when their route is the Tailscale egress (the hub's VM)."""
    provision_delay: float = 1.0
    """Median seconds from a GKE claim's first sighting until it is Ready (other kinds: ``PROVISION_RATIO``)."""
    delete_delay: float = 0.3
    """Median seconds a deleted claim keeps its finalizer (the cloud tearing the cluster down)."""
    sync_delay: float = 0.5
    """Median seconds an Application stays Progressing before it is Synced/Healthy."""
    delay_spread: float = 0.35
    """σ of the log-normal every delay is drawn from (0: always the median). Real create and sync times
    are right-skewed: most near the median, a few several times longer."""
    workflow_duration: float = 1.0
    """Run time of a Workflow whose template sets no ``labsim-duration``/``duration`` parameter."""
    time_scale: float = 1.0
    """Factor on run times taken from WorkflowTemplate parameters (0.1 = ten times faster: the fast mode)."""
    resync_interval: float = 30.0
    """Seconds (± 20 %) between resyncs: every object the watches hold is reconciled again, the safety
    net for a change missed. Changes themselves are handled when their watch event arrives."""
    metrics_interval: float = 2.0
    slow_factor: float = 10.0
    identity_port: int | None = None
    """Serve the fake cloud identity services (:mod:`labsim.identity`) here; the API server's token
    webhook points at it. Then connection Secrets look like the providers' (no static credentials for
    GKE and EKS) and the hub gets the Crossplane credential Secrets. None: working kubeconfigs."""


def sampled_delay(median: float, spread: float, key: str) -> float:
    """A log-normal draw around ``median``, the same for the same ``key`` (a re-read object keeps its delay)."""
    if median <= 0 or spread <= 0:
        return median
    return random.Random(key).lognormvariate(math.log(median), spread)


def faults_of(annotations: Mapping[str, Any] | None) -> set[Fault]:
    text = str((annotations or {}).get(FAULT_ANNOTATION, ""))
    return {Fault(part.strip()) for part in text.split(",") if part.strip() in Fault.__members__.values()}
