"""Invalid Experiments through the real path: the API server's schema rejects them naming the field (422/400),
or the workflow's validate step ends them Failed naming the field, before any cluster claim is made.

The cases are the one-mistake files of tests/validation_corpus (each says the line `labctl validate` prints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.resilience.conftest import NAMESPACE, ResilienceLab

CORPUS = Path(__file__).resolve().parents[1] / "validation_corpus"
NOT_SUBMITTABLE = {
    "duplicate-key": "a YAML loader keeps the last value, so the object sent is valid",
    "experiment-no-name": "names no field; the API server answers metadata.name: Required value",
}


def invalid_experiments() -> dict[str, tuple[dict[str, Any], str]]:
    """file stem -> (body, the field the problem names), for every Experiment the validator rejects."""
    cases = {}
    for path in sorted(CORPUS.glob("*.yaml")):
        text = path.read_text()
        if "# exit: 1" not in text or path.stem in NOT_SUBMITTABLE:
            continue
        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if not isinstance(body, dict) or body.get("kind") != "Experiment":
            continue
        expect = next(line.removeprefix("# expect:").strip() for line in text.splitlines() if "# expect:" in line)
        cases[path.stem] = (body, expect.split(":", 1)[0].strip())
    return cases


CASES = invalid_experiments()


def leaf(field: str) -> str:
    """The last segment of a field path, as the API server and the condition both spell it."""
    return field.rsplit(".", 1)[-1].split("[", 1)[0]


@pytest.fixture(scope="module")
def submitted(lab: ResilienceLab) -> dict[str, tuple[str, str]]:
    """file stem -> ("rejected", API message) or ("created", name); all submitted at once."""
    outcome = {}
    for stem, (body, _) in CASES.items():
        body = dict(body) | {"metadata": {**(body.get("metadata") or {}), "namespace": NAMESPACE}}
        try:
            created: dict[str, Any] = lab.custom.create_namespaced_custom_object(  # type: ignore[assignment]  # the client is untyped
                "experiments.illm.io", "v1alpha1", NAMESPACE, "experiments", body, field_validation="Strict"
            )
        except client.ApiException as exc:
            assert exc.status in (400, 422), f"{stem}: {exc.status} {exc.body}"
            outcome[stem] = ("rejected", str(exc.body))
        else:
            outcome[stem] = ("created", str(created["metadata"]["name"]))
    rejected = sorted(stem for stem, (how, _) in outcome.items() if how == "rejected")
    print(f"\nrefused by the API: {len(rejected)} {rejected}; Failed in validation: {len(CASES) - len(rejected)}")
    return outcome


def test_at_least_thirty_invalid_experiments_are_tried() -> None:
    assert len(CASES) >= 30, sorted(CASES)


@pytest.mark.parametrize("stem", sorted(CASES))
def test_an_invalid_experiment_is_rejected_naming_the_field_and_no_claim_is_made(
    lab: ResilienceLab, submitted: dict[str, tuple[str, str]], stem: str
) -> None:
    field = CASES[stem][1]
    how, detail = submitted[stem]
    if how == "rejected":
        assert leaf(field) in detail, f"{stem}: the API server's answer does not name {field}: {detail}"
        return
    status = lab.wait_final(detail, "Failed", timeout=90)
    messages = " ".join(c.get("message", "") for c in status.get("conditions") or [])
    assert leaf(field) in messages, f"{stem}: no condition names {field}: {messages}"
    assert lab.claims.created(detail) == {}, "a cluster claim was made for an invalid experiment"
    lab.assert_nothing_left(detail)


def _refer_to(template: str | None = None, component: str | None = None) -> Any:
    def change(body: dict[str, Any]) -> None:
        if template:
            body["spec"]["workflow"]["template"] = template
        if component:
            body["spec"]["targets"][0]["components"][0] = {"app": component}

    return change


@pytest.mark.parametrize(
    ("change", "missing", "fix"),
    [
        (_refer_to(template="no-such-validation"), "WorkflowTemplate 'no-such-validation'", "kubectl apply -n"),
        (_refer_to(component="hello-ap"), "hello-ap", "hello-app"),
    ],
    ids=["workflow-template", "component"],
)
def test_a_reference_the_hub_lacks_fails_invalid_spec_before_any_claim_app_or_workflow(
    lab: ResilienceLab, change: Any, missing: str, fix: str
) -> None:
    name = lab.create("missing-ref", change=change)
    status = lab.wait_final(name, "Failed", timeout=90)
    ready = next(c for c in status.get("conditions") or [] if c["type"] == "Ready")
    assert ready["reason"] == "InvalidSpec" and missing in ready["message"] and fix in ready["message"], ready
    assert lab.claims.created(name) == {}, "a cluster claim was made"
    assert lab.leftovers(name) == []  # no Application, no Argo Workflow, nothing labelled with it
    argo: Any = lab.custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argo-workflows", "workflows")
    assert not [w for w in argo["items"] if w["metadata"]["name"].startswith(name)]
    apps: Any = lab.custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")
    assert not [a for a in apps["items"] if a["metadata"]["name"].startswith(name)]
