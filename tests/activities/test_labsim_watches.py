"""The simulator is driven by watches: it handles a change when the change's watch event arrives, a
simulated delay ends on the object's timed requeue, and a watch whose version expired is listed
again. The lab fixture's resync (the safety net) is an hour away, so nothing here can come from it.
"""

from __future__ import annotations

from typing import Any

import pytest

from labsim.config import EXPERIMENT_UID_LABEL, FAULT_ANNOTATION
from tests.activities.conftest import Lab, application, create_experiment, gke_spec, unique_name
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.kube
DEADLINE = 60.0
"""Far below the simulator's resync in the lab fixture: what happens in time came from a watch or a requeue."""
APPS = ("argoproj.io", "v1alpha1", "argocd", "applications")
CLAIMS = ("illm.io", "v1alpha1", "experiments", "gkeclusters")


def health(lab: Lab, name: str) -> str | None:
    return ((application(lab, name).get("status") or {}).get("health") or {}).get("status")


def test_a_change_of_an_experiments_faults_reaches_its_objects_without_a_resync(lab: Lab, kube_namespace: str) -> None:
    resyncs = lab.simulator.resyncs
    ref = create_experiment(lab, kube_namespace, gke_spec())
    name = unique_name("watched-")
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "labels": {EXPERIMENT_UID_LABEL: ref.uid}},
        "spec": {"destination": {"server": "https://kubernetes.default.svc", "namespace": kube_namespace}},
    }
    lab.custom().create_namespaced_custom_object(*APPS, app)
    eventually(lambda: health(lab, name) == "Healthy", DEADLINE, "the Application Healthy")

    # Only the Experiment changes: its watch event makes the simulator look at the objects it owns.
    patch = {"metadata": {"annotations": {FAULT_ANNOTATION: "app-degraded"}}}
    lab.custom().patch_namespaced_custom_object(
        "experiments.illm.io", "v1alpha1", kube_namespace, "experiments", ref.name, patch
    )

    eventually(lambda: health(lab, name) == "Degraded", DEADLINE, "the Application Degraded by the new fault")
    assert lab.simulator.resyncs == resyncs
    lab.custom().delete_namespaced_custom_object(*APPS, name)


def test_a_simulated_delay_ends_on_the_objects_timed_requeue(lab: Lab) -> None:
    """After "Creating" nothing changes the claim: only its requeue at the end of the provision delay
    can make it Ready."""
    resyncs = lab.simulator.resyncs
    name = unique_name("timed-")
    claim = {"apiVersion": "illm.io/v1alpha1", "kind": "GKECluster", "metadata": {"name": name}, "spec": {}}
    lab.custom().create_namespaced_custom_object(*CLAIMS, claim)

    def ready() -> Any:
        status = lab.custom().get_namespaced_custom_object(*CLAIMS, name).get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == "Ready" and c["status"] == "True"), None)

    assert eventually(ready, DEADLINE, "the claim Ready")["reason"] == "Available"
    assert lab.simulator.resyncs == resyncs
    lab.custom().delete_namespaced_custom_object(*CLAIMS, name)


@pytest.mark.slow
def test_an_expired_watch_is_listed_again_and_the_simulator_goes_on(lab: Lab) -> None:
    """A restarted API server ends every watch. Each informer connects again on its backoff: it lists
    its kind again where the version it resumes from is gone (410), or resumes where the new watch
    cache still covers it (no write since its last bookmark); changes made afterwards are handled.
    (That a 410 lists again is asserted on the shared informer itself in test_watches.py.)"""
    informers = lab.simulator.informers
    lists = {plural: informer.lists for plural, informer in informers.items()}
    watches = {plural: informer.watches for plural, informer in informers.items()}
    resyncs = lab.simulator.resyncs

    lab.kube.control_plane.restart_apiserver()
    name = unique_name("relisted-")
    claim = {"apiVersion": "illm.io/v1alpha1", "kind": "GKECluster", "metadata": {"name": name}, "spec": {}}
    eventually(lambda: lab.custom().create_namespaced_custom_object(*CLAIMS, claim), DEADLINE, "the claim created")

    def bound() -> Any:
        return lab.custom().get_namespaced_custom_object(*CLAIMS, name)["metadata"].get("finalizers")

    eventually(bound, DEADLINE, "the claim bound by the simulator")
    eventually(
        lambda: all(
            informer.lists > lists[plural] or informer.watches > watches[plural]
            for plural, informer in informers.items()
        ),
        2 * DEADLINE,  # a backoff of up to 30 s may follow a slow restart
        "every kind listed or watched again",
    )
    # a watch resumed at first may still end in a 410 and list again: wait until every kind is listed
    eventually(lambda: lab.simulator.synced, 2 * DEADLINE, "every kind synced again")
    assert lab.simulator.resyncs == resyncs
    lab.custom().delete_namespaced_custom_object(*CLAIMS, name)
