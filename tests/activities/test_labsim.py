"""The lab simulator itself: it reacts (its latency printed), fault knobs, and its command line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.activities.conftest import Lab, create_experiment, gke_spec, unique_name
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.kube


def reacted(check: Callable[[], Any], what: str) -> float:
    """Seconds until the simulator did ``what``: a figure to print, never to assert."""
    began = time.monotonic()
    eventually(check, 30, what, interval=0.01)
    return time.monotonic() - began


def test_simulator_reacts_to_a_claim_and_an_application(lab: Lab) -> None:
    custom = lab.custom()
    name = unique_name("lat-")
    claim = {"apiVersion": "illm.io/v1alpha1", "kind": "GKECluster", "metadata": {"name": name}, "spec": {}}
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {"destination": {"server": "https://kubernetes.default.svc", "namespace": name}, "sources": []},
    }
    custom.create_namespaced_custom_object("illm.io", "v1alpha1", "experiments", "gkeclusters", claim)
    claim_latency = reacted(
        lambda: custom.get_namespaced_custom_object("illm.io", "v1alpha1", "experiments", "gkeclusters", name)[
            "metadata"
        ].get("finalizers"),
        "the claim has the simulator's finalizer",
    )
    custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", app)
    app_latency = reacted(
        lambda: custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name).get(
            "status"
        ),
        "the Application has a status",
    )
    custom.delete_namespaced_custom_object("illm.io", "v1alpha1", "experiments", "gkeclusters", name)
    custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name)
    print(f"labsim reaction: claim {claim_latency * 1000:.0f} ms, application {app_latency * 1000:.0f} ms")


def test_slow_fault_stretches_provisioning(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec(), annotations={"labsim.illm.io/fault": "slow"})
    custom = lab.custom()
    claim = {
        "apiVersion": "illm.io/v1alpha1",
        "kind": "GKECluster",
        "metadata": {"name": f"{ref.name}-app", "labels": {"experiments.illm.io/experiment-uid": ref.uid}},
        "spec": {},
    }
    custom.create_namespaced_custom_object("illm.io", "v1alpha1", "experiments", "gkeclusters", claim)
    time.sleep(2.0)  # four times the normal provision delay
    current: Any = custom.get_namespaced_custom_object(
        "illm.io", "v1alpha1", "experiments", "gkeclusters", claim["metadata"]["name"]
    )
    ready = [x for x in current["status"]["conditions"] if x["type"] == "Ready"]
    assert ready[0]["status"] == "False" and ready[0]["reason"] == "Creating"
    custom.delete_namespaced_custom_object(
        "illm.io", "v1alpha1", "experiments", "gkeclusters", claim["metadata"]["name"]
    )


def test_command_line_documents_every_knob() -> None:
    done = subprocess.run([sys.executable, "-m", "labsim", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for flag in ("--kubeconfig", "--victoria-metrics", "--provision-delay", "--sync-delay", "--workflow-duration"):
        assert flag in done.stdout
