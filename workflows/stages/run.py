"""Run: discover the tutorial services, submit the Argo validation workflow and wait for its end.

Manual mode then waits for a complete request (update ``complete``, signal ``request_complete``);
with the ``manual-ends-on-request`` patch a request that comes first ends the run and resumes the
Argo workflow's suspend steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.concurrency import settle
from workflows.lifecycle import Lifecycle
from workflows.progress import Stage

with workflow.unsafe.imports_passed_through():
    from activities.clusters.contracts import (
        DISCOVER_TUTORIAL_SERVICES,
        DiscoveredTutorialServices,
        DiscoverTutorialServicesInput,
        TutorialTarget,
    )
    from activities.run.contracts import (
        RESUME_ARGO_WORKFLOW,
        SUBMIT_ARGO_WORKFLOW,
        WAIT_FOR_ARGO_WORKFLOW,
        ArgoWorkflowPhase,
        FinishedArgoWorkflow,
        ResumeArgoWorkflowInput,
        ResumedArgoWorkflow,
        SubmitArgoWorkflowInput,
        SubmittedArgoWorkflow,
        WaitForArgoWorkflowInput,
    )
    from api import names
    from api.experiment import (
        CompletionMode,
        ConditionStatus,
        DiscoveredService,
        ExperimentPhase,
        TutorialStatus,
        WorkflowStatus,
    )
    from workflows import policies
    from workflows.argo_params import argo_parameters


async def run_argo_workflow(life: Lifecycle) -> None:
    budget = PhaseBudget("running", life.spec.deadline("running"))
    await _discover_tutorial_services(life, budget)
    endpoints = {t.name: t.endpoint for t in life.book.status.targets or []}
    with life.hub_call():
        submitted = await call(
            SUBMIT_ARGO_WORKFLOW,
            SubmitArgoWorkflowInput(
                experiment=life.experiment,
                template=life.spec.workflow.template,
                mode=life.spec.workflow.completion.mode,
                parameters=argo_parameters(life.experiment.name, life.spec, endpoints),
            ),
            SubmittedArgoWorkflow,
            policies.cloud_call(budget.remaining()),
            budget,
            f"Argo workflow {names.argo_workflow_name(life.experiment)} to be submitted",
        )
    life.book.update(workflow_status=WorkflowStatus(name=submitted.name, phase="Running", started_at=workflow.now()))
    life.progress.reach(Stage.RUNNING)
    life.enter(ExperimentPhase.RUNNING, "Running", f"Argo workflow {submitted.name} running")
    wait_for_argo = call(
        WAIT_FOR_ARGO_WORKFLOW,
        WaitForArgoWorkflowInput(experiment=life.experiment, name=submitted.name),
        FinishedArgoWorkflow,
        policies.long_wait(budget.remaining()),
        budget,
        f"Argo workflow {submitted.name} to finish",
    )
    manual = life.spec.workflow.completion.mode == CompletionMode.MANUAL
    if manual and life.changes.manual_ends_on_request:
        ending = await _argo_or_complete_request(life, wait_for_argo)
        if ending is None:
            await _end_run_on_request(life, submitted.name, budget)
            return
        finished = ending
    else:
        finished = await wait_for_argo
    life.book.update(
        workflow_status=WorkflowStatus(
            name=finished.name,
            phase=finished.phase,
            started_at=finished.started_at or workflow.now(),
            finished_at=finished.finished_at or workflow.now(),
            message=finished.message,
        )
    )
    if finished.phase != ArgoWorkflowPhase.SUCCEEDED:
        detail = f": {finished.message}" if finished.message else ""
        raise ExperimentFailed("ArgoWorkflowFailed", f"Argo workflow {finished.name} ended {finished.phase}{detail}")
    life.progress.reach(Stage.RUN_SUCCEEDED)
    if manual:
        _note_awaiting_completion(life)
        await workflow.wait_condition(lambda: life.complete_request is not None)


def complete_problem(life: Lifecycle) -> str | None:
    """Why a complete request is refused now, or None when it is accepted."""
    if life.spec.workflow.completion.mode != CompletionMode.MANUAL:
        return "this experiment runs in workflow mode; it completes when its Argo workflow succeeds"
    if life.book.finished():
        return f"the experiment already finished ({life.book.phase})"
    return None


def _note_awaiting_completion(life: Lifecycle) -> None:
    life.ready(
        ConditionStatus.UNKNOWN,
        "AwaitingCompletion",
        "manual mode: running until `labctl complete` (update 'complete', signal 'request_complete') or TTL",
    )


async def _argo_or_complete_request(
    life: Lifecycle, wait_for_argo: Awaitable[FinishedArgoWorkflow]
) -> FinishedArgoWorkflow | None:
    """Manual mode: the Argo workflow's end, or None when a complete request came first."""
    life.progress.reach(Stage.AWAITING_COMPLETION)
    _note_awaiting_completion(life)
    waiting = asyncio.ensure_future(wait_for_argo)
    await workflow.wait_condition(lambda: waiting.done() or life.complete_request is not None)
    if waiting.done():
        return waiting.result()
    waiting.cancel()  # the poll is abandoned, no cancel request; cleanup deletes the workflow it polls
    await settle(waiting)
    return None


async def _end_run_on_request(life: Lifecycle, name: str, budget: PhaseBudget) -> None:
    """Resume the Argo workflow's suspend steps (``argo resume``); a failed resume does not undo the request."""
    request = life.complete_request
    assert request is not None  # ended on it
    try:
        resumed = await call(
            RESUME_ARGO_WORKFLOW,
            ResumeArgoWorkflowInput(experiment=life.experiment, name=name),
            ResumedArgoWorkflow,
            policies.cloud_call(budget.remaining()),
            budget,
            f"Argo workflow {name} to be resumed",
        )
        note = f"resumed {', '.join(resumed.resumed_nodes)}" if resumed.resumed_nodes else "nothing to resume"
    except ExperimentFailed as failure:
        note = f"not resumed: {failure.message}"
    life.progress.reach(Stage.RUN_SUCCEEDED)
    current = life.book.status.workflow_status
    life.book.update(
        workflow_status=WorkflowStatus(
            name=name,
            phase=current.phase if current else "Running",
            started_at=current.started_at if current else None,
            message=f"completion requested by {request.requested_by}; {note}",
        )
    )


async def _discover_tutorial_services(life: Lifecycle, budget: PhaseBudget) -> None:
    """Tutorial endpoints and kubeconfig Secrets into status, for hub and remote targets alike.

    Best effort, as in the original: a service that cannot be resolved is listed not ready.
    """
    tutorial = life.spec.tutorial
    targets = life.book.status.targets or []
    secrets = {t.name: t.kubeconfig_secret for t in targets if t.kubeconfig_secret}
    if not tutorial or not (tutorial.services or secrets):
        return
    services: list[DiscoveredService] = []
    if tutorial.services:
        by_name = {t.name: t for t in life.spec.targets}
        discovery = DiscoverTutorialServicesInput(
            experiment=life.experiment,
            services=tutorial.services,
            targets=[
                TutorialTarget(name=t.name, cluster_type=by_name[t.name].cluster.type, cluster_name=t.cluster_name)
                for t in targets
                if t.cluster_name and t.name in by_name
            ],
        )
        try:
            found = await call(
                DISCOVER_TUTORIAL_SERVICES,
                discovery,
                DiscoveredTutorialServices,
                policies.cloud_call(min(budget.remaining(), timedelta(minutes=5))),
                budget,
                "tutorial services to be discovered",
            )
            services = found.services
        except ExperimentFailed as failure:
            services = [DiscoveredService(name=ref.name, ready=False) for ref in tutorial.services]
            workflow.logger.warning("tutorial service discovery failed: %s", failure)
    life.book.update(tutorial_status=TutorialStatus(services=services or None, kubeconfig_secrets=secrets or None))
