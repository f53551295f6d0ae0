"""Argo Workflows: submit ``<exp>-validation-<hash>`` (api.names) from the WorkflowTemplate, wait for its end,
resume it.

As the original (seed §3.3): namespace ``argo-workflows``, ServiceAccount ``argo-workflow``, the
template referenced by name, parameters as ``spec.arguments``. A missing template is a permanent
error naming template and namespace — except the built-in default name ``experiment-lifecycle``,
which keeps the original's inline fallback (log a line; in manual mode then suspend). The validate
stage checks the same rule (``missing_template``) before anything is spent. A manual experiment
ended on request resumes its workflow as ``argo resume`` does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from activities.contracts import ValidationProblem
from activities.errors import ArgoWorkflowRejected
from activities.kube import (
    CustomObjects,
    experiment_labels,
    hub_client,
    is_conflict,
    is_not_found,
    reason_of,
)
from activities.run.contracts import (
    ArgoWorkflowPhase,
    FinishedArgoWorkflow,
    ResumeArgoWorkflowInput,
    ResumedArgoWorkflow,
    SubmitArgoWorkflowInput,
    SubmittedArgoWorkflow,
    WaitForArgoWorkflowInput,
)
from activities.settings import ActivitySettings
from activities.watches import HubWatches, Kind, Obj, Waiting
from api import names
from api.experiment import INLINE_WORKFLOW_TEMPLATE, CompletionMode

GROUP, VERSION = "argoproj.io", "v1alpha1"
SERVICE_ACCOUNT = "argo-workflow"
DEFAULT_TEMPLATE = INLINE_WORKFLOW_TEMPLATE
TERMINAL = {p.value for p in ArgoWorkflowPhase}
WORKFLOWS = Kind(GROUP, VERSION, "workflows", names.ARGO_WORKFLOWS_NAMESPACE, "Workflow")
TEMPLATES = Kind(GROUP, VERSION, "workflowtemplates", names.ARGO_WORKFLOWS_NAMESPACE, "WorkflowTemplate", selector="")
"""The hub's WorkflowTemplates as the worker's informer keeps them (every one: users apply them, not us)."""


def build_workflow(inp: SubmitArgoWorkflowInput, inline: bool) -> dict[str, Any]:
    name = names.argo_workflow_name(inp.experiment)
    spec: dict[str, Any] = {"serviceAccountName": SERVICE_ACCOUNT}
    if inline:
        spec |= inline_lifecycle(inp.experiment.name, inp.mode)
    else:
        spec["workflowTemplateRef"] = {"name": inp.template}
    if inp.parameters:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in sorted(inp.parameters.items())]}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "namespace": names.ARGO_WORKFLOWS_NAMESPACE,
            "labels": experiment_labels(inp.experiment),
        },
        "spec": spec,
    }


def inline_lifecycle(experiment: str, mode: str) -> dict[str, Any]:
    """The original's fallback: echo that the experiment runs; manual mode then waits for ``argo resume``."""
    steps: list[list[dict[str, str]]] = [[{"name": "log-ready", "template": "log-ready"}]]
    templates: list[dict[str, Any]] = [
        {"name": "experiment-lifecycle", "steps": steps},
        {
            "name": "log-ready",
            "container": {
                "image": "alpine:3.19",
                "command": ["sh", "-c"],
                "args": [f'echo "Experiment {experiment} is running"'],
            },
        },
    ]
    if mode == CompletionMode.MANUAL:
        steps.append([{"name": "wait-for-complete", "template": "wait-for-complete"}])
        templates.append({"name": "wait-for-complete", "suspend": {}})
    return {"entrypoint": "experiment-lifecycle", "templates": templates}


def template_exists(custom: CustomObjects, template: str, watches: HubWatches | None = None) -> bool:
    """Whether the hub has the WorkflowTemplate: the informer's store answers yes (validation and submit
    each asked the API, 2 GETs per experiment); a store without it may be behind, so the API answers no."""
    if watches is not None and watches.stored(TEMPLATES, template) is not None:
        return True
    try:
        custom.get(GROUP, VERSION, names.ARGO_WORKFLOWS_NAMESPACE, "workflowtemplates", template)
    except ApiException as exc:
        if not is_not_found(exc):
            raise
        return False
    return True


def missing_template(
    custom: CustomObjects, template: str, watches: HubWatches | None = None
) -> ValidationProblem | None:
    """Why ``template`` cannot run on this hub, or None (the default name falls back to the inline workflow)."""
    if template == DEFAULT_TEMPLATE or template_exists(custom, template, watches):
        return None
    namespace = names.ARGO_WORKFLOWS_NAMESPACE
    return ValidationProblem(
        field="spec.workflow.template",
        message=f"WorkflowTemplate {template!r} not found in namespace {namespace} on the hub",
        fix=f"apply it there (kubectl apply -n {namespace} -f experiments/<scenario>/workflow/template.yaml), "
        f"or set spec.workflow.template to {DEFAULT_TEMPLATE!r}",
    )


async def submit_argo_workflow(
    inp: SubmitArgoWorkflowInput, settings: ActivitySettings, watches: HubWatches | None = None
) -> SubmittedArgoWorkflow:
    """Create the Workflow, or find the one an earlier attempt created. Permanent: template missing, rejected."""
    return await asyncio.to_thread(_submit, settings, inp, watches)


def _submit(
    settings: ActivitySettings, inp: SubmitArgoWorkflowInput, watches: HubWatches | None = None
) -> SubmittedArgoWorkflow:
    """Create first and read only on a conflict: the Workflow an earlier attempt created wins, even if its
    template has been deleted since (the only case a missing template does not reject)."""
    name = names.argo_workflow_name(inp.experiment)
    with hub_client(settings) as api:
        custom = CustomObjects(api)
        missing = missing_template(custom, inp.template, watches)
        if missing:
            earlier = _existing_workflow(custom, name)
            if earlier is None:
                raise ArgoWorkflowRejected(f"{missing.message}: {missing.fix}")
            return earlier
        inline = inp.template == DEFAULT_TEMPLATE and not template_exists(custom, DEFAULT_TEMPLATE, watches)
        try:
            custom.create(GROUP, VERSION, names.ARGO_WORKFLOWS_NAMESPACE, "workflows", build_workflow(inp, inline))
        except ApiException as exc:
            if exc.status in (400, 422):
                raise ArgoWorkflowRejected(f"Workflow {name} rejected: {reason_of(exc)}") from exc
            if not is_conflict(exc):
                raise
            earlier = _existing_workflow(custom, name)
            if earlier is not None:
                return earlier
            raise  # deleted between the conflict and the read: the retry creates it
    return SubmittedArgoWorkflow(name=name, inline=inline)


def _existing_workflow(custom: CustomObjects, name: str) -> SubmittedArgoWorkflow | None:
    try:
        existing = custom.get(GROUP, VERSION, names.ARGO_WORKFLOWS_NAMESPACE, "workflows", name)
    except ApiException as exc:
        if is_not_found(exc):
            return None
        raise
    return SubmittedArgoWorkflow(name=name, inline="workflowTemplateRef" not in existing.get("spec", {}))


async def wait_for_argo_workflow(
    inp: WaitForArgoWorkflowInput, settings: ActivitySettings, watches: HubWatches
) -> FinishedArgoWorkflow:
    """Wait (woken by the Workflows' watch) until the Workflow is Succeeded, Failed or Error.

    Permanent: it disappeared.
    """

    def check(wf: Obj | None) -> FinishedArgoWorkflow | Waiting:
        if wf is None:
            raise ArgoWorkflowRejected(
                f"Workflow {inp.name} disappeared from namespace {names.ARGO_WORKFLOWS_NAMESPACE}"
            )
        status = wf.get("status") or {}
        phase = status.get("phase") or "Pending"
        if phase not in TERMINAL:
            return Waiting(f"Workflow {inp.name}: {phase}")
        return FinishedArgoWorkflow(
            name=inp.name,
            phase=ArgoWorkflowPhase(phase),
            message=status.get("message"),
            started_at=_time(status.get("startedAt")),
            finished_at=_time(status.get("finishedAt")),
        )

    return await watches.until(WORKFLOWS, inp.name, check)


async def resume_argo_workflow(inp: ResumeArgoWorkflowInput, settings: ActivitySettings) -> ResumedArgoWorkflow:
    """What ``argo resume`` does: unset ``spec.suspend``, mark every Running Suspend node Succeeded.

    Idempotent: a retry finds nothing left to resume; a workflow that is gone has nothing to resume.
    """
    return await asyncio.to_thread(_resume, settings, inp)


def _resume(settings: ActivitySettings, inp: ResumeArgoWorkflowInput) -> ResumedArgoWorkflow:
    namespace = names.ARGO_WORKFLOWS_NAMESPACE
    with hub_client(settings) as api:
        custom = CustomObjects(api)
        while True:  # as Argo's util.ResumeWorkflow: read, change, update; a conflict reads again
            try:
                wf = custom.get(GROUP, VERSION, namespace, "workflows", inp.name)
            except ApiException as exc:
                if is_not_found(exc):
                    return ResumedArgoWorkflow(name=inp.name)
                raise
            resumed = resume_suspended(wf, f"Resumed by: experiment {inp.experiment.name} completed on request")
            if not resumed and "suspend" not in (wf.get("spec") or {}):
                return ResumedArgoWorkflow(name=inp.name)
            try:
                custom.replace(GROUP, VERSION, namespace, "workflows", inp.name, wf)
            except ApiException as exc:
                if is_conflict(exc):
                    continue
                raise
            return ResumedArgoWorkflow(name=inp.name, resumed_nodes=resumed)


def resume_suspended(wf: dict[str, Any], message: str) -> list[str]:
    """Change ``wf`` in place as ``argo resume`` does; the display names of the nodes resumed."""
    (wf.get("spec") or {}).pop("suspend", None)
    finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    resumed = []
    for node in ((wf.get("status") or {}).get("nodes") or {}).values():
        if node.get("type") == "Suspend" and node.get("phase") == "Running":
            node.update(phase="Succeeded", finishedAt=finished, message=message)
            resumed.append(str(node.get("displayName") or node.get("name")))
    return sorted(resumed)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
