"""Shared pieces of the labctl tests: running the CLI in-process, Experiment files, and a stand-in gateway.

The real kube-apiserver (``kube`` fixture) stores the Experiments; the tests play the CRD gateway by
patching the status subresource, exactly as the gateway does, so labctl sees what it would see in a lab.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from api.base import API_GROUP, API_VERSION
from labctl.cli import main
from tests.fixtures.eventually import eventually
from tests.fixtures.kube import KubeCluster

EXPERIMENT_YAML = """\
apiVersion: experiments.illm.io/v1alpha1
kind: Experiment
metadata:
  generateName: {scenario}-
  namespace: {namespace}
  labels:
    scenario: {scenario}
spec:
  title: A test experiment
  targets:
    - name: app
      cluster:
        type: gke
    - name: loadgen
      cluster:
        type: gke
  workflow:
    template: hello-app-validation
    completion:
      mode: {mode}
  hypothesis:
    claim: the app answers fast
    successCriteria:
      - metric: cpu_total
        operator: lt
        value: "0.5"
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def labctl(capsys: pytest.CaptureFixture[str]) -> Any:
    """``labctl(*args)`` runs the CLI in-process and returns exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def kube_env(kube: KubeCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> KubeCluster:
    """The test cluster as the user's default cluster ($KUBECONFIG), and a private HOME."""
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return kube


def experiment_file(directory: Path, namespace: str, *, scenario: str = "demo", mode: str = "workflow") -> Path:
    path = directory / f"{scenario}.yaml"
    path.write_text(EXPERIMENT_YAML.format(scenario=scenario, namespace=namespace, mode=mode))
    return path


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": now()}


class Gateway:
    """Plays the CRD gateway: creates Experiments directly and writes their status subresource."""

    def __init__(self, kube: KubeCluster, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(kube.api_client())
        self.namespace = namespace
        self.threads: list[threading.Thread] = []

    def create(self, path_or_body: Path | dict[str, Any]) -> str:
        import yaml

        body = yaml.safe_load(path_or_body.read_text()) if isinstance(path_or_body, Path) else path_or_body
        created: Any = self.custom.create_namespaced_custom_object(
            API_GROUP, API_VERSION, self.namespace, "experiments", body
        )
        return str(created["metadata"]["name"])

    def get(self, name: str) -> dict[str, Any]:
        found: Any = self.custom.get_namespaced_custom_object(
            API_GROUP, API_VERSION, self.namespace, "experiments", name
        )
        return dict(found)

    def names(self) -> list[str]:
        found: Any = self.custom.list_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, "experiments")
        return [str(item["metadata"]["name"]) for item in found["items"]]

    def patch_status(self, name: str, status: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object_status(
            API_GROUP, API_VERSION, self.namespace, "experiments", name, {"status": status}
        )

    def walk(self, name: str, final: str = "Complete") -> None:
        """Pending → Provisioning → Ready → Running → ``final`` with targets, conditions and a timeline."""
        timeline: list[dict[str, str]] = []
        conditions: list[dict[str, Any]] = []
        temporal = {"workflowId": f"experiment-{self.namespace}-{name}", "uiURL": f"http://temporal.test/wf/{name}"}
        steps: list[tuple[str, str, dict[str, Any] | None]] = [
            ("Pending", "Pending", None),
            ("Provisioning", "Provisioning", condition("Provisioned", "False", "Provisioning", "creating clusters")),
            ("Ready", "Ready", condition("Provisioned", "True", "ClustersReady", "2 clusters ready")),
            ("Running", "Ready", condition("Deployed", "True", "AppsHealthy", "apps healthy")),
        ]
        if final == "Complete":
            steps.append(("Complete", "Ready", condition("Ready", "True", "Succeeded", "experiment complete")))
        else:
            steps.append(("Failed", "Failed", condition("Ready", "False", "WorkflowFailed", "validation step failed")))
        for phase, target_phase, new_condition in steps:
            timeline.append({"phase": phase, "time": now()})
            if new_condition:
                conditions = [c for c in conditions if c["type"] != new_condition["type"]] + [new_condition]
            status: dict[str, Any] = {
                "phase": phase,
                "temporal": temporal,
                "timeline": list(timeline),
                "conditions": list(conditions),
                "targets": [
                    {"name": "app", "phase": target_phase, "clusterName": f"{name}-app"},
                    {"name": "loadgen", "phase": target_phase, "clusterName": f"{name}-loadgen"},
                ],
            }
            if phase in ("Complete", "Failed"):
                status["hypothesisResult"] = "validated" if phase == "Complete" else None
                status["resultsURL"] = f"s3://experiment-results/{name}/"
            self.patch_status(name, {k: v for k, v in status.items() if v is not None})
            time.sleep(0.15)

    def walk_first_created(self, final: str = "Complete", delay: float = 0.3) -> None:
        """In the background: wait for the experiment labctl creates, then walk it to ``final``."""

        def play() -> None:
            names = eventually(self.names, what="an Experiment created by labctl", interval=0.05)
            time.sleep(delay)
            self.walk(names[0], final)

        thread = threading.Thread(target=play, daemon=True)
        thread.start()
        self.threads.append(thread)

    def in_background(self, action: Any, delay: float = 0.5) -> None:
        def later() -> None:
            time.sleep(delay)
            action()

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def gateway(kube_env: KubeCluster, kube_namespace: str) -> Iterator[Gateway]:
    player = Gateway(kube_env, kube_namespace)
    yield player
    player.join()
