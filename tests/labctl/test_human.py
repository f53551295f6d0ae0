"""`labctl complete` and `labctl review`: set the annotation, then report what the platform answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.experiment import COMPLETE_ANNOTATION, REVIEW_ANNOTATION
from tests.labctl.conftest import Gateway, condition, experiment_file


def running(gateway: Gateway, tmp_path: Path, namespace: str, mode: str = "manual") -> str:
    name = gateway.create(experiment_file(tmp_path, namespace, mode=mode))
    gateway.patch_status(name, {"phase": "Running"})
    return name


def test_complete_sets_the_annotation_and_reports_the_gateways_condition(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = running(gateway, tmp_path, kube_namespace)
    accepted = condition("CompleteRequest", "True", "Accepted", f"{COMPLETE_ANNOTATION}=true: sent to the workflow")
    gateway.in_background(lambda: gateway.patch_status(name, {"conditions": [accepted]}))

    result = labctl("complete", name, "-n", kube_namespace, "--timeout", "20")

    assert result.code == 0, result.err
    assert gateway.get(name)["metadata"]["annotations"][COMPLETE_ANNOTATION] == "true"
    assert result.out.splitlines() == [
        f"experiment {name}: set {COMPLETE_ANNOTATION}=true",
        f"experiment {name}: CompleteRequest=True (Accepted): {COMPLETE_ANNOTATION}=true: sent to the workflow",
    ]


def test_complete_reports_the_phase_change_when_no_condition_is_written(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = running(gateway, tmp_path, kube_namespace)
    gateway.in_background(lambda: gateway.patch_status(name, {"phase": "Complete"}))

    result = labctl("complete", name, "-n", kube_namespace, "--timeout", "20")

    assert result.code == 0
    assert result.out.splitlines()[-1] == f"experiment {name}: phase Running -> Complete"


def test_complete_succeeds_with_a_note_when_the_gateway_does_not_react(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = running(gateway, tmp_path, kube_namespace)

    result = labctl("complete", name, "-n", kube_namespace, "--timeout", "1")

    assert result.code == 0
    assert result.out.splitlines()[-1].startswith("note: the platform has not reacted within 1s")
    assert gateway.get(name)["metadata"]["annotations"][COMPLETE_ANNOTATION] == "true"


def test_a_refused_request_exits_1_with_the_gateways_reason(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = running(gateway, tmp_path, kube_namespace)
    refused = condition("ReviewRequest", "False", "WorkflowClosed", f"{REVIEW_ANNOTATION}=rejected: the workflow ended")
    gateway.in_background(lambda: gateway.patch_status(name, {"conditions": [refused]}))

    result = labctl("review", name, "reject", "-n", kube_namespace, "--timeout", "20")

    assert result.code == 1
    assert gateway.get(name)["metadata"]["annotations"][REVIEW_ANNOTATION] == "rejected"
    assert result.out.splitlines()[-1] == (
        f"experiment {name}: refused: ReviewRequest=False (WorkflowClosed): "
        f"{REVIEW_ANNOTATION}=rejected: the workflow ended"
    )


def test_review_approve_reports_the_review_gate(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = running(gateway, tmp_path, kube_namespace, mode="workflow")
    gateway.in_background(lambda: gateway.patch_status(name, {"reviewPhase": "Approved"}))

    result = labctl("review", name, "approve", "-n", kube_namespace, "--timeout", "20")

    assert result.code == 0
    assert gateway.get(name)["metadata"]["annotations"][REVIEW_ANNOTATION] == "approved"
    assert result.out.splitlines()[-1] == f"experiment {name}: review Approved"


def test_asking_again_reports_the_earlier_answer_without_waiting(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = running(gateway, tmp_path, kube_namespace)
    gateway.custom.patch_namespaced_custom_object(
        "experiments.illm.io",
        "v1alpha1",
        kube_namespace,
        "experiments",
        name,
        {"metadata": {"annotations": {COMPLETE_ANNOTATION: "true"}}},
    )
    accepted = condition("CompleteRequest", "True", "Accepted", f"{COMPLETE_ANNOTATION}=true: sent to the workflow")
    gateway.patch_status(name, {"conditions": [accepted]})

    result = labctl("complete", name, "-n", kube_namespace)

    assert result.code == 0
    assert result.out.splitlines() == [
        f"experiment {name}: CompleteRequest=True (Accepted): {COMPLETE_ANNOTATION}=true: sent to the workflow"
    ]


def test_a_finished_experiment_cannot_be_completed(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path
) -> None:
    name = gateway.create(experiment_file(tmp_path, kube_namespace))
    gateway.patch_status(name, {"phase": "Failed"})

    result = labctl("complete", name, "-n", kube_namespace)

    assert result.code == 2
    assert result.err == f"labctl complete: experiment {name} is already Failed; nothing to ask of it\n"
    assert COMPLETE_ANNOTATION not in (gateway.get(name)["metadata"].get("annotations") or {})
