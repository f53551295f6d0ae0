"""ExperimentWorkflow: one durable lifecycle per Experiment object.

Reads top to bottom like the lifecycle (docs/architecture.md): validate → provision clusters (all
targets in parallel) → deploy ArgoCD apps (``depends`` DAG; infra/obs before workload) → run the
Argo workflow (manual mode: then wait for a complete request) → results (metrics, quality gate,
hypothesis, storage) → cleanup → publish, analysis, review → wait for the TTL → delete the
Experiment object. Each stage is a module of workflows/stages/; what the run owes is its
``LifecycleProgress`` (workflows/progress.py).

The TTL and cancellation (the Experiment was deleted) interrupt any stage; cleanup then runs to the
end in a non-cancellable scope. Deadlines are the activities' schedule-to-close timeouts, taken from
the remaining phase budget, so waiting costs no timer events. Deterministic code only: no I/O, no
clocks, no randomness outside the SDK.

Running workflows replay this code: a change that issues other commands (activities, timers, their
order) must branch on ``workflow.patched("<change-id>")`` (workflows/changes.py).
tests/workflow/test_replay.py replays the committed histories in tests/histories/ (recorded by
``python -m tests.workflow.record_histories``).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed
from workflows.concurrency import uncancellable
from workflows.lifecycle import Lifecycle
from workflows.progress import Stage
from workflows.stages.cleanup import cleanup_by_policy
from workflows.stages.deploy import deploy_applications
from workflows.stages.provision import provision_clusters
from workflows.stages.publish import publish_analyse_review, review_problem
from workflows.stages.results import collect_and_store, complete_with_results
from workflows.stages.run import complete_problem, run_argo_workflow
from workflows.stages.ttl import end_at_ttl, end_on_cancel, ended_by_ttl, linger_until_ttl
from workflows.stages.validate import validate_spec
from workflows.status_pump import StatusPump

with workflow.unsafe.imports_passed_through():
    from api.experiment import ExperimentPhase, ExperimentStatus
    from workflows.changes import Changes
    from workflows.messages import (
        COMPLETE_SIGNAL,
        COMPLETE_UPDATE,
        REVIEW_SIGNAL,
        REVIEW_UPDATE,
        STATUS_QUERY,
        CompleteRequest,
        ExperimentInput,
        ExperimentOutcome,
        ReviewRequest,
    )


@workflow.defn(name="ExperimentWorkflow")
class ExperimentWorkflow:
    @workflow.init
    def __init__(self, inp: ExperimentInput) -> None:
        self._life = Lifecycle(inp.experiment, inp.spec)

    @workflow.run
    async def run(self, inp: ExperimentInput) -> ExperimentOutcome:
        life = self._life
        life.changes = Changes.decide()
        pump = StatusPump(life.experiment, life.book, life.status_waits)
        life.enter(ExperimentPhase.PENDING, "Validating", "checking the spec and the component catalog")
        try:
            if await ended_by_ttl(life, self._active_stages()):
                await uncancellable(end_at_ttl(life))
            else:
                await linger_until_ttl(life)
        except asyncio.CancelledError:
            await uncancellable(end_on_cancel(life))
            await uncancellable(pump.flush())
            raise
        await uncancellable(pump.flush())
        return life.outcome()

    async def _active_stages(self) -> None:
        """The stages in lifecycle order; results are collected whenever the Argo workflow was submitted."""
        life = self._life
        try:
            await validate_spec(life)
            await provision_clusters(life)
            await deploy_applications(life)
            await run_argo_workflow(life)
        except ExperimentFailed as failure:
            life.fail(failure.reason, failure.message)
            if life.progress.reached(Stage.RUNNING):
                await collect_and_store(life, gate=True)
        else:
            await complete_with_results(life, "Succeeded", "the experiment ran to completion", gate=True)
        await cleanup_by_policy(life)
        await publish_analyse_review(life)

    # ------------------------------------------------------------------------ handlers

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ExperimentStatus:
        return self._life.book.snapshot()

    @workflow.update(name=COMPLETE_UPDATE)
    async def complete(self, request: CompleteRequest) -> str:
        self._life.complete_request = self._life.complete_request or request
        return f"completion of {self._life.experiment.name} requested by {request.requested_by}"

    @complete.validator
    def _validate_complete(self, request: CompleteRequest) -> None:
        problem = complete_problem(self._life)
        if problem:
            raise ValueError(problem)

    @workflow.signal(name=COMPLETE_SIGNAL)
    def request_complete(self, request: CompleteRequest) -> None:
        problem = complete_problem(self._life)
        if problem:
            workflow.logger.warning("complete signal ignored: %s", problem)
            return
        self._life.complete_request = self._life.complete_request or request

    @workflow.update(name=REVIEW_UPDATE)
    async def review(self, request: ReviewRequest) -> str:
        life = self._life
        life.review_request = life.review_request or request
        if life.progress.open_review is None and life.book.status.review_phase is None:
            return f"{request.decision} recorded; applied when the review gate opens"
        return f"{request.decision} recorded"

    @review.validator
    def _validate_review(self, request: ReviewRequest) -> None:
        problem = review_problem(self._life, request)
        if problem:
            raise ValueError(problem)

    @workflow.signal(name=REVIEW_SIGNAL)
    def submit_review(self, request: ReviewRequest) -> None:
        problem = review_problem(self._life, request)
        if problem:
            workflow.logger.warning("review signal ignored: %s", problem)
            return
        self._life.review_request = self._life.review_request or request
