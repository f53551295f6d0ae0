"""VALIDATE_EXPERIMENT: the admission rules with the catalog read from the cluster; problems are answers.

Every reference is checked on the hub before anything is spent: Components and the WorkflowTemplate.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from activities.contracts import ExperimentRef, ValidateInput, ValidationResult
from activities.deploy.component_sources import COMPONENTS
from activities.validation import validate_experiment
from api.base import API_GROUP, API_VERSION
from api.experiment import ExperimentSpec
from labctl.catalog import from_directory
from tests.activities.conftest import REPO, Lab, create_experiment, gke_spec, run, unique_name
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.kube


@pytest.fixture
def hello_app_template(lab: Lab) -> None:
    """The catalog's hello-app WorkflowTemplate on the hub, as `labctl lab up` applies it."""
    body: Any = yaml.safe_load((REPO / "experiments/hello-app/workflow/template.yaml").read_text())
    try:
        lab.custom().create_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "argo-workflows", "workflowtemplates", body
        )
    except ApiException as exc:
        if exc.status != 409:
            raise


async def validate(lab: Lab, ref: ExperimentRef, doc: dict[str, Any]) -> ValidationResult:
    inp = ValidateInput(experiment=ref, spec=ExperimentSpec.model_validate(doc))
    return await run(validate_experiment, inp, watches=lab.watches)


@pytest.mark.asyncio
async def test_valid_experiment_has_no_problems(lab: Lab, kube_namespace: str, hello_app_template: None) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    result = await validate(lab, ref, gke_spec())
    assert result.problems == []


@pytest.mark.asyncio
async def test_unknown_component_is_reported_not_raised(
    lab: Lab, kube_namespace: str, hello_app_template: None
) -> None:
    doc = gke_spec([{"name": "app", "cluster": {"type": "gke"}, "components": [{"app": "hello-ap"}]}])
    ref = create_experiment(lab, kube_namespace, doc)
    result = await validate(lab, ref, doc)
    [problem] = result.problems
    assert problem.field == "spec.targets[0].components[0].app"
    assert "hello-ap" in problem.message


@pytest.mark.asyncio
async def test_missing_workflow_template_is_reported_with_the_fix(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec(workflow={"template": "no-such-template-validation", "completion": {"mode": "workflow"}})
    ref = create_experiment(lab, kube_namespace, doc)
    result = await validate(lab, ref, doc)
    [problem] = result.problems
    assert problem.field == "spec.workflow.template"
    assert (
        problem.message
        == "WorkflowTemplate 'no-such-template-validation' not found in namespace argo-workflows on the hub"
    )
    assert problem.fix and "kubectl apply -n argo-workflows" in problem.fix and "'experiment-lifecycle'" in problem.fix


@pytest.mark.asyncio
async def test_the_default_template_needs_nothing_on_the_hub(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec(workflow={"template": "experiment-lifecycle", "completion": {"mode": "manual"}})
    ref = create_experiment(lab, kube_namespace, doc)
    result = await validate(lab, ref, doc)
    assert result.problems == []


@pytest.mark.asyncio
async def test_a_watched_catalog_is_not_listed_and_a_component_created_just_before_is_found(
    lab: Lab, kube_namespace: str, hello_app_template: None
) -> None:
    eventually(lambda: lab.watches.stored_all(COMPONENTS), 30, "the catalog in the informer's store")
    ref = create_experiment(lab, kube_namespace, gke_spec())
    before = lab.kube.requests()
    assert (await validate(lab, ref, gke_spec())).problems == []
    assert lab.kube.requests_since(before, "LIST components") == {"LIST components": 0}

    name = unique_name("component-")
    body: dict[str, Any] = from_directory(REPO / "components").components["hello-app"].to_wire()
    body["metadata"] = {"name": name}
    lab.custom().create_cluster_custom_object(API_GROUP, API_VERSION, "components", body)
    try:  # validated at once, before the watch can have delivered it: the API has the last word
        doc = gke_spec([{"name": "app", "cluster": {"type": "gke"}, "components": [{"app": name}]}])
        assert (await validate(lab, ref, doc)).problems == []
    finally:
        lab.custom().delete_cluster_custom_object(API_GROUP, API_VERSION, "components", name)
