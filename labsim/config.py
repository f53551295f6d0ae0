"""The simulator's knobs: timings, where metrics go, and the per-experiment fault annotation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

CRD_DIR = Path(__file__).parent / "crds"
FAULT_ANNOTATION = "labsim.illm.io/fault"
"""Comma-separated :class:`Fault` values, on the Experiment or on one claim/Application/Workflow."""
EXPERIMENT_UID_LABEL = "experiments.illm.io/experiment-uid"
"""Which Experiment object an object belongs to (twins with one name have different uids)."""
PLATFORM_NAMESPACES = ("experiments", "crossplane-system", "argocd", "argo-workflows", "tailscale")


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
    """Seconds from a claim's first sighting until it is Ready."""
    delete_delay: float = 0.3
    """Seconds a deleted claim keeps its finalizer (the cloud tearing the cluster down)."""
    sync_delay: float = 0.5
    """Seconds an Application stays Progressing before it is Synced/Healthy."""
    workflow_duration: float = 1.0
    """Run time of a Workflow whose template sets no ``labsim-duration``/``duration`` parameter."""
    time_scale: float = 1.0
    """Factor on run times taken from WorkflowTemplate parameters (0.1 = ten times faster: the fast mode)."""
    poll_interval: float = 0.2
    metrics_interval: float = 2.0
    slow_factor: float = 10.0


def faults_of(annotations: Mapping[str, Any] | None) -> set[Fault]:
    text = str((annotations or {}).get(FAULT_ANNOTATION, ""))
    return {Fault(part.strip()) for part in text.split(",") if part.strip() in Fault.__members__.values()}
