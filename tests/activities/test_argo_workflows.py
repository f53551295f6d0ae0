"""Argo Workflows: submission from a WorkflowTemplate, status, the missing-template rule and the inline fallback."""

from __future__ import annotations

from typing import Any

import pytest

from activities.contracts import ExperimentRef
from activities.errors import ArgoWorkflowRejected
from activities.run.argo_workflows import (
    TEMPLATES,
    resume_argo_workflow,
    submit_argo_workflow,
    wait_for_argo_workflow,
)
from activities.run.contracts import (
    ArgoWorkflowPhase,
    ResumeArgoWorkflowInput,
    SubmitArgoWorkflowInput,
    SubmittedArgoWorkflow,
    WaitForArgoWorkflowInput,
)
from api import names
from tests.activities.conftest import Lab, create_experiment, gke_spec, run, unique_name
from tests.fixtures.eventually import eventually, eventually_async

pytestmark = pytest.mark.kube


def make_template(lab: Lab, duration: str = "1s") -> str:
    name = unique_name("tmpl-")
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "experiment-name"}, {"name": "labsim-duration", "value": duration}]},
            "templates": [{"name": "main", "container": {"image": "alpine:3.19"}}],
        },
    }
    lab.custom().create_namespaced_custom_object("argoproj.io", "v1alpha1", "argo-workflows", "workflowtemplates", body)
    return name


def workflow(lab: Lab, name: str) -> dict[str, Any]:
    found: Any = lab.custom().get_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "argo-workflows", "workflows", name
    )
    return dict(found)


def submit_input(ref: ExperimentRef, template: str, mode: str = "workflow") -> SubmitArgoWorkflowInput:
    params = {"experiment-name": ref.name, "target-name": "app", "target-endpoint": "10.0.0.1"}
    return SubmitArgoWorkflowInput(experiment=ref, template=template, mode=mode, parameters=params)


@pytest.mark.asyncio
async def test_workflow_from_template_runs_to_success_with_the_original_parameters(
    lab: Lab, kube_namespace: str
) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    template = make_template(lab)

    submitted = await run(submit_argo_workflow, submit_input(ref, template))
    again = await run(submit_argo_workflow, submit_input(ref, template))  # a retry finds it
    finished = await run(
        wait_for_argo_workflow, WaitForArgoWorkflowInput(experiment=ref, name=submitted.name), watches=lab.watches
    )

    assert submitted == again == SubmittedArgoWorkflow(name=names.argo_workflow_name(ref), inline=False)
    wf = workflow(lab, submitted.name)
    assert wf["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "experiment-operator",
        "experiments.illm.io/experiment": ref.name,
        "experiments.illm.io/experiment-uid": ref.uid,
    }
    assert wf["spec"]["serviceAccountName"] == "argo-workflow"
    assert wf["spec"]["workflowTemplateRef"] == {"name": template}
    assert wf["spec"]["arguments"]["parameters"] == [
        {"name": "experiment-name", "value": ref.name},
        {"name": "target-endpoint", "value": "10.0.0.1"},
        {"name": "target-name", "value": "app"},
    ]
    assert finished.phase == ArgoWorkflowPhase.SUCCEEDED
    assert finished.started_at and finished.finished_at and finished.finished_at >= finished.started_at


@pytest.mark.asyncio
async def test_submit_creates_without_reading_first_and_a_retry_finds_its_workflow_even_without_the_template(
    lab: Lab, kube_namespace: str
) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    template = make_template(lab)
    before = lab.kube.requests()
    submitted = await run(submit_argo_workflow, submit_input(ref, template))
    assert lab.kube.requests_since(before, "GET workflows", "POST workflows") == {
        "GET workflows": 0,
        "POST workflows": 1,
    }

    lab.custom().delete_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "argo-workflows", "workflowtemplates", template
    )
    again = await run(submit_argo_workflow, submit_input(ref, template))  # an attempt retried after that
    assert again == submitted == SubmittedArgoWorkflow(name=names.argo_workflow_name(ref), inline=False)


@pytest.mark.asyncio
async def test_a_template_in_the_informers_store_is_not_read_again_and_one_it_lacks_is_asked_for(
    lab: Lab, kube_namespace: str
) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    template = make_template(lab)
    eventually(lambda: lab.watches.stored(TEMPLATES, template), 30, "the template in the informer's store")

    before = lab.kube.requests()
    submitted = await run(submit_argo_workflow, submit_input(ref, template), watches=lab.watches)
    assert submitted.name == names.argo_workflow_name(ref) and not submitted.inline
    assert lab.kube.requests_since(before, "GET workflowtemplates") == {"GET workflowtemplates": 0}

    # Absent from the store is not absent from the hub (the store may be behind): the API says so.
    other = create_experiment(lab, kube_namespace, gke_spec())
    before = lab.kube.requests()
    with pytest.raises(ArgoWorkflowRejected, match="'not-applied-yet' not found in namespace argo-workflows"):
        await run(submit_argo_workflow, submit_input(other, "not-applied-yet"), watches=lab.watches)
    assert lab.kube.requests_since(before, "GET workflowtemplates") == {"GET workflowtemplates": 1}


@pytest.mark.asyncio
async def test_failed_workflow_is_reported_with_its_message(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec(), annotations={"labsim.illm.io/fault": "workflow-fail"})
    submitted = await run(submit_argo_workflow, submit_input(ref, make_template(lab, "0s")))
    finished = await run(
        wait_for_argo_workflow, WaitForArgoWorkflowInput(experiment=ref, name=submitted.name), watches=lab.watches
    )
    assert finished.phase == ArgoWorkflowPhase.FAILED
    assert "simulated step failure" in (finished.message or "")


@pytest.mark.asyncio
async def test_missing_template_fails_naming_the_template_and_namespace(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    with pytest.raises(ArgoWorkflowRejected, match="'logging-comparison-v3' not found in namespace argo-workflows"):
        await run(submit_argo_workflow, submit_input(ref, "logging-comparison-v3"))


@pytest.mark.asyncio
async def test_default_template_name_keeps_the_inline_fallback(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    submitted = await run(submit_argo_workflow, submit_input(ref, "experiment-lifecycle", mode="manual"))

    assert submitted.inline
    spec = workflow(lab, submitted.name)["spec"]
    assert spec["entrypoint"] == "experiment-lifecycle"
    assert [t["name"] for t in spec["templates"]] == ["experiment-lifecycle", "log-ready", "wait-for-complete"]
    assert spec["templates"][2] == {"name": "wait-for-complete", "suspend": {}}


def suspended_nodes(wf: dict[str, Any]) -> list[str]:
    nodes = ((wf.get("status") or {}).get("nodes") or {}).values()
    return [n["displayName"] for n in nodes if n["type"] == "Suspend" and n["phase"] == "Running"]


@pytest.mark.asyncio
async def test_inline_manual_workflow_waits_at_its_suspend_step_until_resumed(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    submitted = await run(submit_argo_workflow, submit_input(ref, "experiment-lifecycle", mode="manual"))
    assert submitted.inline

    await eventually_async(lambda: suspended_nodes(workflow(lab, submitted.name)) == ["wait-for-complete"])
    assert workflow(lab, submitted.name)["status"]["phase"] == "Running"  # suspended, as in Argo

    resume = ResumeArgoWorkflowInput(experiment=ref, name=submitted.name)
    resumed = await run(resume_argo_workflow, resume)
    again = await run(resume_argo_workflow, resume)  # a retry finds nothing left to resume
    finished = await run(
        wait_for_argo_workflow, WaitForArgoWorkflowInput(experiment=ref, name=submitted.name), watches=lab.watches
    )

    assert resumed.resumed_nodes == ["wait-for-complete"] and again.resumed_nodes == []
    assert finished.phase == ArgoWorkflowPhase.SUCCEEDED
    [node] = workflow(lab, submitted.name)["status"]["nodes"].values()
    assert node["phase"] == "Succeeded" and node["finishedAt"] and node["message"].startswith("Resumed by:")


@pytest.mark.asyncio
async def test_resuming_a_workflow_that_is_gone_resumes_nothing(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    resumed = await run(resume_argo_workflow, ResumeArgoWorkflowInput(experiment=ref, name=f"{ref.name}-validation"))
    assert resumed.resumed_nodes == []
