"""`labctl list` and `labctl status`: what is running, why it is where it is, and where to look next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.labctl.conftest import Gateway, condition, experiment_file


def test_list_shows_phase_reason_targets_verdict_and_age(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    done = gateway.create(experiment_file(tmp_path, kube_namespace))
    gateway.walk(done, "Complete")
    waiting = gateway.create(experiment_file(tmp_path, kube_namespace, scenario="other"))

    result = labctl("list", "-n", kube_namespace)

    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["NAME", "PHASE", "REASON", "TARGETS", "VERDICT", "AGE"]
    by_name = {row.split()[0]: row.split() for row in rows}
    assert by_name[done][1:5] == ["Complete", "Succeeded", "app,loadgen", "validated"]
    assert by_name[waiting][1:5] == ["Pending", "-", "app,loadgen", "-"]
    assert by_name[waiting][5].endswith("s")


def test_list_filters_by_phase_and_label_and_spans_namespaces(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    failed = gateway.create(experiment_file(tmp_path, kube_namespace))
    gateway.walk(failed, "Failed")
    other = gateway.create(experiment_file(tmp_path, kube_namespace, scenario="other"))

    by_phase = labctl("list", "-n", kube_namespace, "--phase", "failed")
    by_label = labctl("list", "-n", kube_namespace, "-l", "scenario=other")
    everywhere = labctl("list", "-A", "--phase", "Failed")

    assert [r.split()[0] for r in by_phase.out.splitlines()[1:]] == [failed]
    assert "WorkflowFailed" in by_phase.out
    assert [r.split()[0] for r in by_label.out.splitlines()[1:]] == [other]
    assert everywhere.out.splitlines()[0].split()[0] == "NAMESPACE"
    assert f"{kube_namespace}   {failed}" in everywhere.out


def test_list_says_so_when_nothing_matches(labctl: Any, gateway: Gateway, kube_namespace: str) -> None:
    result = labctl("list", "-n", kube_namespace)

    assert (result.code, result.out.strip()) == (0, f"No experiments found in namespace {kube_namespace}.")


def test_list_rejects_an_unknown_phase_in_one_line(labctl: Any) -> None:
    result = labctl("list", "--phase", "Done")

    assert result.code == 2
    assert "'Done' is not a phase" in result.err


def test_status_shows_targets_conditions_workflow_results_and_timeline(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))
    gateway.walk(name, "Complete")
    gateway.patch_status(
        name,
        {
            "workflowStatus": {"name": f"{name}-validation", "phase": "Succeeded"},
            "tutorialStatus": {
                "services": [{"name": "web", "endpoint": "http://10.0.0.7:80", "ready": True}],
                "kubeconfigSecrets": {"app": f"{name}-app-kubeconfig"},
            },
        },
    )

    result = labctl("status", name, "-n", kube_namespace)

    assert result.code == 0, result.err
    out = result.out
    assert f"Name:          {name}" in out
    assert "Phase:         Complete" in out
    assert "Reason:        Succeeded: experiment complete" in out
    assert "Workflow UI:   http://temporal.test/wf/" in out
    assert f"Argo workflow: {name}-validation Succeeded" in out
    assert f"Results:       s3://experiment-results/{name}/" in out
    assert "Hypothesis:    validated — the app answers fast" in out
    assert "Completion:    workflow (template hello-app-validation)" in out
    section = out.split("Targets:")[1].split("Conditions:")[0]
    assert f"app       Ready   {name}-app" in section
    conditions = out.split("Conditions:")[1].split("Tutorial services:")[0]
    assert "Provisioned   True     ClustersReady" in conditions and "2 clusters ready" in conditions
    assert "web    http://10.0.0.7:80   yes" in out
    assert f"app      {name}-app-kubeconfig" in out
    timeline = [line.split()[0] for line in out.split("Timeline:")[1].splitlines()[2:]]
    assert timeline == ["Pending", "Provisioning", "Ready", "Running", "Complete"]


def test_status_of_a_new_experiment_is_pending_without_sections_it_has_no_data_for(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))

    result = labctl("status", name, "-n", kube_namespace)

    assert result.code == 0
    assert "Phase:         Pending" in result.out
    assert "Hypothesis:    (not evaluated yet) the app answers fast" in result.out
    assert "Conditions:" not in result.out and "Timeline:" not in result.out


def test_status_yaml_output_is_the_object(labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))
    gateway.patch_status(name, {"phase": "Running", "conditions": [condition("Deployed", "True", "AppsHealthy", "ok")]})

    result = labctl("status", name, "-n", kube_namespace, "-o", "yaml")

    obj = yaml.safe_load(result.out)
    assert obj["metadata"]["name"] == name and obj["status"]["phase"] == "Running"


def test_status_of_a_missing_experiment_is_one_line(labctl: Any, gateway: Gateway, kube_namespace: str) -> None:
    result = labctl("status", "nope", "-n", kube_namespace)

    assert result.code == 2
    assert result.err == (
        f"labctl status: experiment 'nope' in namespace '{kube_namespace}': "
        'experiments.experiments.illm.io "nope" not found\n'
    )
