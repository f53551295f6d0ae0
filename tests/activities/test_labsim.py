"""The lab simulator itself: reaction latency, fault knobs, and its command line."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from tests.activities.conftest import Lab, create_experiment, gke_spec, unique_name

pytestmark = pytest.mark.kube


def wait_for(check: Any, seconds: float = 5.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if check():
            return time.monotonic() - began
        time.sleep(0.01)
    raise AssertionError("the simulator never reacted")


def test_simulator_reacts_within_half_a_second(lab: Lab) -> None:
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
    claim_latency = wait_for(
        lambda: custom.get_namespaced_custom_object("illm.io", "v1alpha1", "experiments", "gkeclusters", name)[
            "metadata"
        ].get("finalizers")
    )
    custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", app)
    app_latency = wait_for(
        lambda: custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name).get(
            "status"
        )
    )
    custom.delete_namespaced_custom_object("illm.io", "v1alpha1", "experiments", "gkeclusters", name)
    custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name)
    print(f"labsim reaction: claim {claim_latency * 1000:.0f} ms, application {app_latency * 1000:.0f} ms")
    assert claim_latency < 0.5 and app_latency < 0.5


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
