"""ExperimentWorkflow: one durable lifecycle per Experiment object.

Reads top to bottom like the lifecycle: validate → provision clusters (all targets in parallel) →
deploy ArgoCD apps (``depends`` DAG; infra/obs before workload) → run the Argo workflow (manual
mode: then wait for a complete request) → results (metrics, quality gate, hypothesis, storage) →
cleanup → publish, analysis, review → wait for the TTL → delete the Experiment object.

The TTL and cancellation (the Experiment was deleted) interrupt any stage; cleanup then runs to the
end in a non-cancellable scope. Deadlines are the activities' schedule-to-close timeouts, taken from
the remaining phase budget, so waiting costs no timer events. Deterministic code only: no I/O, no
clocks, no randomness outside the SDK.

Running workflows replay this code: a change that issues other commands (activities, timers, their
order) must branch on ``workflow.patched("<change-id>")``. tests/workflow/test_replay.py replays the
committed histories in tests/histories/ (recorded by ``python -m tests.workflow.record_histories``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from api import names
    from api.base import format_duration
    from api.experiment import (
        AnalysisPhase,
        AnalyzerSection,
        CleanupPolicy,
        CompletionMode,
        ConditionStatus,
        DiscoveredService,
        ExperimentPhase,
        ExperimentStatus,
        HypothesisVerdict,
        IterationPhase,
        IterationStatus,
        ReviewPhase,
        Target,
        TemporalRef,
        TutorialStatus,
        WorkflowStatus,
    )
    from workflows import hypothesis, quality_gate
    from workflows import policies as p
    from workflows import search_attributes as sa
    from workflows import status as st
    from workflows.argo_params import argo_parameters
    from workflows.changes import Changes
    from workflows.depends import dependency_problem
    from workflows.messages import (
        COMPLETE_SIGNAL,
        COMPLETE_UPDATE,
        REVIEW_SIGNAL,
        REVIEW_UPDATE,
        STATUS_QUERY,
        CompleteRequest,
        ExperimentInput,
        ExperimentOutcome,
        ReviewDecision,
        ReviewRequest,
    )

T = TypeVar("T")
DEFAULT_SECTIONS = [
    AnalyzerSection.ABSTRACT,
    AnalyzerSection.TARGET_ANALYSIS,
    AnalyzerSection.PERFORMANCE_ANALYSIS,
    AnalyzerSection.METRIC_INSIGHTS,
    AnalyzerSection.BODY,
    AnalyzerSection.FEEDBACK,
    AnalyzerSection.ARCHITECTURE_DIAGRAM,
]


class ExperimentFailed(Exception):
    """Internal: ends the active stages; becomes phase Failed with this reason and message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class PhaseBudget:
    """What is left of a phase deadline, for the schedule-to-close of the next activity."""

    def __init__(self, name: str, deadline: timedelta) -> None:
        self.name = name
        self.deadline = deadline
        self.ends_at = workflow.now() + deadline

    def remaining(self) -> timedelta:
        return self.ends_at - workflow.now()


async def _uncancellable(work: Awaitable[T]) -> T:
    """Run to the end even if the workflow is cancelled meanwhile (a non-cancellable scope)."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise


async def _settle(task: asyncio.Task[Any]) -> None:
    """Wait for a task that was told to stop; what it ends with no longer matters."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _all_or_first_failure(coros: Sequence[Awaitable[None]]) -> None:
    """Run concurrently; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(x) for x in coros]
    if not tasks:
        return
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:  # stopped from outside (TTL, deletion): stop the children too
        for task in tasks:
            task.cancel()
        for task in tasks:
            await _uncancellable(_settle(task))
        raise
    failed = next((t for t in tasks if t.done() and not t.cancelled() and t.exception()), None)
    if failed is None:
        return
    for task in tasks:
        task.cancel()
    for task in tasks:
        if not task.done():
            await _settle(task)
    raise cast(BaseException, failed.exception())


@workflow.defn(name="ExperimentWorkflow")
class ExperimentWorkflow:
    @workflow.init
    def __init__(self, inp: ExperimentInput) -> None:
        self._exp = inp.experiment
        self._spec = inp.spec
        info = workflow.info()
        self._book = st.StatusBook(
            inp.experiment.generation,
            [t.name for t in inp.spec.targets],
            TemporalRef(workflow_id=info.workflow_id, run_id=info.run_id),
        )
        self._reported = 0
        self._complete: CompleteRequest | None = None
        self._review: ReviewRequest | None = None
        self._provision_started = False
        self._reached_running = False
        self._argo_succeeded = False
        self._awaiting_completion = False
        self._results_stored = False
        self._cleaned = False
        self._cleanup_retained = False
        self._review_open = False
        self._pr: c.PublishedResults | None = None
        self._healthy: set[str] = set()
        self._search_phase: str | None = None
        self._not_deleted: list[str] = []
        self._summary_key = names.summary_key(inp.experiment)

    # ------------------------------------------------------------------------- lifecycle

    @workflow.run
    async def run(self, inp: ExperimentInput) -> ExperimentOutcome:
        self._changes = Changes.decide()
        pump = asyncio.create_task(self._status_pump())
        self._enter(ExperimentPhase.PENDING, "Validating", "checking the spec and the component catalog")
        try:
            if await self._live_until_ttl():
                await _uncancellable(self._end_at_ttl())
            else:
                await self._linger_until_ttl()
        except asyncio.CancelledError:
            await _uncancellable(self._end_on_cancel())
            await _uncancellable(self._flush(pump))
            raise
        await _uncancellable(self._flush(pump))
        return self._outcome()

    async def _live_until_ttl(self) -> bool:
        """The active stages, raced against the TTL. True when the TTL ended them."""
        life = asyncio.create_task(self._life())
        try:
            left = self._ttl_left()
            if left is None:
                await life
                return False
            if left > timedelta(0):
                try:
                    await workflow.wait_condition(life.done, timeout=left)
                    life.result()
                    return False
                except TimeoutError:
                    pass
            life.cancel()
            await _settle(life)
            return True
        except asyncio.CancelledError:
            life.cancel()
            await _uncancellable(_settle(life))
            raise

    async def _life(self) -> None:
        try:
            await self._validate()
            await self._provision()
            await self._deploy()
            await self._run_validation_workflow()
        except ExperimentFailed as failure:
            self._fail(failure.reason, failure.message)
            if self._reached_running:
                await self._collect_and_store(gate=True)
        else:
            await self._complete_with_results("Succeeded", "the experiment ran to completion", gate=True)
        await self._cleanup_by_policy()
        await self._publish_analyse_review()

    # ---------------------------------------------------------------------------- stages

    async def _validate(self) -> None:
        budget = PhaseBudget("provisioning", self._spec.deadline("provisioning"))
        result = await self._call(
            c.VALIDATE_EXPERIMENT,
            c.ValidateInput(experiment=self._exp, spec=self._spec),
            c.ValidationResult,
            p.cloud_call(budget.remaining()),
            budget,
            "spec validation",
        )
        if result.problems:
            text = "; ".join(f"{x.field}: {x.message}" + (f" (fix: {x.fix})" if x.fix else "") for x in result.problems)
            self._condition(st.VALIDATED, ConditionStatus.FALSE, "InvalidSpec", text)
            raise ExperimentFailed("InvalidSpec", text)
        problem = dependency_problem(self._spec.targets)  # before any cluster is paid for
        if not problem and self._changes.gate_budget_at_validation:
            problem = quality_gate.budget_problem(self._spec)
        if problem:
            self._condition(st.VALIDATED, ConditionStatus.FALSE, "InvalidSpec", problem)
            raise ExperimentFailed("InvalidSpec", problem)
        self._condition(st.VALIDATED, ConditionStatus.TRUE, "Valid", "spec and components are valid")

    async def _provision(self) -> None:
        names_ = ", ".join(t.name for t in self._spec.targets)
        self._enter(ExperimentPhase.PROVISIONING, "Provisioning", f"provisioning clusters for targets {names_}")
        self._provision_started = True
        budget = PhaseBudget("provisioning", self._spec.deadline("provisioning"))
        try:
            await _all_or_first_failure([self._provision_target(t, budget) for t in self._spec.targets])
        except ExperimentFailed as failure:
            self._condition(st.PROVISIONED, ConditionStatus.FALSE, failure.reason, failure.message)
            raise
        self._condition(st.PROVISIONED, ConditionStatus.TRUE, "ClustersReady", f"clusters ready: {names_}")

    async def _provision_target(self, target: Target, budget: PhaseBudget) -> None:
        claim = names.cluster_name(self._exp, target.name, target.cluster.type)
        try:
            created = await self._call(
                c.PROVISION_CLUSTER,
                c.ProvisionClusterInput(experiment=self._exp, target=target.name, cluster=target.cluster),
                c.ProvisionedCluster,
                p.cloud_call(budget.remaining()),
                budget,
                f"cluster {claim} of target {target.name} to be requested",
            )
            self._book.update_target(
                target.name,
                phase="Provisioning",
                cluster_name=created.cluster_name,
                machine_type=created.machine_type,
                node_count=created.node_count,
            )
            ready = await self._call(
                c.WAIT_FOR_CLUSTER_READY,
                c.WaitForClusterInput(
                    experiment=self._exp,
                    target=target.name,
                    cluster_type=target.cluster.type,
                    cluster_name=created.cluster_name,
                ),
                c.ReadyCluster,
                p.long_wait(budget.remaining()),
                budget,
                f"cluster {created.cluster_name} of target {target.name} to become Ready",
            )
        except ExperimentFailed:
            self._book.update_target(target.name, phase="Failed")
            raise
        self._book.update_target(
            target.name, phase="Ready", endpoint=ready.endpoint, kubeconfig_secret=ready.kubeconfig_secret
        )

    async def _deploy(self) -> None:
        self._enter(ExperimentPhase.READY, "Deploying", "clusters ready; deploying applications")
        budget = PhaseBudget("deploying", self._spec.deadline("deploying"))
        try:
            await _all_or_first_failure([self._deploy_target(t, budget) for t in self._spec.targets])
        except ExperimentFailed as failure:
            self._condition(st.DEPLOYED, ConditionStatus.FALSE, failure.reason, failure.message)
            raise
        self._condition(st.DEPLOYED, ConditionStatus.TRUE, "ApplicationsHealthy", "all applications healthy")

    async def _deploy_target(self, target: Target, budget: PhaseBudget) -> None:
        depends = target.depends or []
        await workflow.wait_condition(lambda: all(d in self._healthy for d in depends))
        obs = target.observability
        layered = bool(obs and obs.enabled and target.cluster.type != "hub")
        first: list[c.Layer] = []
        if layered and obs:
            first = ["infra", "obs"] if obs.transport == "tailscale" else ["obs"]
        deployed: list[str] = []
        components: list[str] = []
        for group in ([first] if first else []) + ([["workload"]] if target.components or not layered else []):
            results = await asyncio.gather(*(self._deploy_layer(target, layer, layered, budget) for layer in group))
            deployed += group
            components += [x for r in results for x in r.components]
            self._book.update_target(target.name, deployed_layers=list(deployed), components=components or None)
        self._book.update_target(target.name, apps_created=True)
        self._healthy.add(target.name)

    async def _deploy_layer(
        self, target: Target, layer: c.Layer, layered: bool, budget: PhaseBudget
    ) -> c.DeployedApplications:
        status = self._book.target(target.name)
        app = names.app_name(self._exp, target.name, layer if layered else "workload")
        return await self._call(
            c.DEPLOY_APPLICATIONS,
            c.DeployApplicationsInput(
                experiment=self._exp,
                target=target,
                cluster_name=status.cluster_name or "",
                endpoint=status.endpoint,
                layer=layer,
                layered=layered,
            ),
            c.DeployedApplications,
            p.long_wait(budget.remaining()),
            budget,
            f"ArgoCD application {app} to become healthy",
        )

    async def _run_validation_workflow(self) -> None:
        budget = PhaseBudget("running", self._spec.deadline("running"))
        await self._discover_tutorial_services(budget)
        endpoints = {t.name: t.endpoint for t in self._book.status.targets or []}
        submitted = await self._call(
            c.SUBMIT_ARGO_WORKFLOW,
            c.SubmitArgoWorkflowInput(
                experiment=self._exp,
                template=self._spec.workflow.template,
                mode=self._spec.workflow.completion.mode,
                parameters=argo_parameters(self._exp.name, self._spec, endpoints),
            ),
            c.SubmittedArgoWorkflow,
            p.cloud_call(budget.remaining()),
            budget,
            f"Argo workflow {names.argo_workflow_name(self._exp)} to be submitted",
        )
        self._book.update(
            workflow_status=WorkflowStatus(name=submitted.name, phase="Running", started_at=workflow.now())
        )
        self._reached_running = True
        self._enter(ExperimentPhase.RUNNING, "Running", f"Argo workflow {submitted.name} running")
        wait_for_argo = self._call(
            c.WAIT_FOR_ARGO_WORKFLOW,
            c.WaitForArgoWorkflowInput(experiment=self._exp, name=submitted.name),
            c.FinishedArgoWorkflow,
            p.long_wait(budget.remaining()),
            budget,
            f"Argo workflow {submitted.name} to finish",
        )
        manual = self._spec.workflow.completion.mode == CompletionMode.MANUAL
        if manual and self._changes.manual_ends_on_request:
            ending = await self._argo_or_complete_request(wait_for_argo)
            if ending is None:
                await self._end_run_on_request(submitted.name, budget)
                return
            finished = ending
        else:
            finished = await wait_for_argo
        self._book.update(
            workflow_status=WorkflowStatus(
                name=finished.name,
                phase=finished.phase,
                started_at=finished.started_at or workflow.now(),
                finished_at=finished.finished_at or workflow.now(),
                message=finished.message,
            )
        )
        if finished.phase != c.ArgoWorkflowPhase.SUCCEEDED:
            detail = f": {finished.message}" if finished.message else ""
            raise ExperimentFailed(
                "ArgoWorkflowFailed", f"Argo workflow {finished.name} ended {finished.phase}{detail}"
            )
        self._argo_succeeded = True
        if manual:
            self._await_completion_note()
            await workflow.wait_condition(lambda: self._complete is not None)

    def _await_completion_note(self) -> None:
        self._ready(
            ConditionStatus.UNKNOWN,
            "AwaitingCompletion",
            "manual mode: running until `labctl complete` (update 'complete', signal 'request_complete') or TTL",
        )

    async def _argo_or_complete_request(
        self, wait_for_argo: Awaitable[c.FinishedArgoWorkflow]
    ) -> c.FinishedArgoWorkflow | None:
        """Manual mode: the Argo workflow's end, or None when a complete request came first."""
        self._awaiting_completion = True
        self._await_completion_note()
        waiting = asyncio.ensure_future(wait_for_argo)
        await workflow.wait_condition(lambda: waiting.done() or self._complete is not None)
        if waiting.done():
            return waiting.result()
        waiting.cancel()  # the poll is abandoned, no cancel request; cleanup deletes the workflow it polls
        await _settle(waiting)
        return None

    async def _end_run_on_request(self, name: str, budget: PhaseBudget) -> None:
        """Resume the Argo workflow's suspend steps (``argo resume``); a failed resume does not undo the request."""
        request = cast(CompleteRequest, self._complete)
        try:
            resumed = await self._call(
                c.RESUME_ARGO_WORKFLOW,
                c.ResumeArgoWorkflowInput(experiment=self._exp, name=name),
                c.ResumedArgoWorkflow,
                p.cloud_call(budget.remaining()),
                budget,
                f"Argo workflow {name} to be resumed",
            )
            note = f"resumed {', '.join(resumed.resumed_nodes)}" if resumed.resumed_nodes else "nothing to resume"
        except ExperimentFailed as failure:
            note = f"not resumed: {failure.message}"
        self._argo_succeeded = True
        current = self._book.status.workflow_status
        self._book.update(
            workflow_status=WorkflowStatus(
                name=name,
                phase=current.phase if current else "Running",
                started_at=current.started_at if current else None,
                message=f"completion requested by {request.requested_by}; {note}",
            )
        )

    async def _discover_tutorial_services(self, budget: PhaseBudget) -> None:
        """Tutorial endpoints and kubeconfig Secrets into status, for hub and remote targets alike.

        Best effort, as in the original: a service that cannot be resolved is listed not ready.
        """
        tutorial = self._spec.tutorial
        targets = self._book.status.targets or []
        secrets = {t.name: t.kubeconfig_secret for t in targets if t.kubeconfig_secret}
        if not tutorial or not (tutorial.services or secrets):
            return
        services: list[DiscoveredService] = []
        if tutorial.services:
            by_name = {t.name: t for t in self._spec.targets}
            discovery = c.DiscoverTutorialServicesInput(
                experiment=self._exp,
                services=tutorial.services,
                targets=[
                    c.TutorialTarget(
                        name=t.name, cluster_type=by_name[t.name].cluster.type, cluster_name=t.cluster_name
                    )
                    for t in targets
                    if t.cluster_name and t.name in by_name
                ],
            )
            try:
                found = await self._call(
                    c.DISCOVER_TUTORIAL_SERVICES,
                    discovery,
                    c.DiscoveredTutorialServices,
                    p.cloud_call(min(budget.remaining(), timedelta(minutes=5))),
                    budget,
                    "tutorial services to be discovered",
                )
                services = found.services
            except ExperimentFailed as failure:
                services = [DiscoveredService(name=ref.name, ready=False) for ref in tutorial.services]
                workflow.logger.warning("tutorial service discovery failed: %s", failure)
        self._book.update(tutorial_status=TutorialStatus(services=services or None, kubeconfig_secrets=secrets or None))

    async def _complete_with_results(self, reason: str, message: str, gate: bool) -> None:
        """Phase Complete; with the results-first shape only once summary.json is stored (or Failed if it cannot be)."""
        collect = self._reached_running and not self._results_stored
        if not self._changes.complete_after_results:
            self._finish(ExperimentPhase.COMPLETE, reason, message)
            if collect:
                await self._collect_and_store(gate=gate)
            return
        if collect:
            self._ready(ConditionStatus.UNKNOWN, "CollectingResults", "collecting metrics and storing the results")
            await self._collect_and_store(gate=gate)
        if not self._book.finished():
            self._finish(ExperimentPhase.COMPLETE, reason, message)

    async def _collect_and_store(self, gate: bool) -> None:
        budget = PhaseBudget("results", self._spec.deadline("results"))
        cluster_names = {t.name: t.cluster_name for t in self._book.status.targets or [] if t.cluster_name}
        gated = gate and quality_gate.applies(self._spec) and self._book.phase != ExperimentPhase.FAILED
        iteration = 0
        try:
            while True:
                metrics = await self._call(
                    c.COLLECT_METRICS,
                    c.CollectMetricsInput(
                        experiment=self._exp, spec=self._spec, cluster_names=cluster_names, iteration=iteration
                    ),
                    c.MetricsCollection,
                    p.cloud_call(self._spec.deadline("results")),
                    budget,
                    "metrics collection",
                )
                verdict = hypothesis.evaluate(self._spec.hypothesis, metrics.values)
                if not gated or not await self._quality_gate(iteration, metrics, verdict.verdict):
                    break
                iteration += 1
            self._record_verdict(verdict)
            ending = ExperimentPhase.FAILED if self._book.phase == ExperimentPhase.FAILED else ExperimentPhase.COMPLETE
            left = budget.remaining()
            stored = await self._call(
                c.STORE_RESULTS,
                c.StoreResultsInput(
                    experiment=self._exp,
                    spec=self._spec,
                    status=self._book.as_if(ending, workflow.now()),
                    snapshot_key=metrics.snapshot_key,
                    criteria=verdict.criteria,
                ),
                c.StoredResults,
                p.slow_call(max(left, self._store_reserve()) if self._changes.complete_after_results else left),
                budget,
                "results to be stored in S3",
            )
        except ExperimentFailed as failure:
            self._fail(failure.reason, failure.message)
            return
        self._results_stored = True
        self._summary_key = stored.summary_key
        self._book.update(results_url=stored.results_url)

    async def _quality_gate(
        self, iteration: int, metrics: c.MetricsCollection, verdict: HypothesisVerdict | None
    ) -> bool:
        """Record one evaluation; True when the caller should re-collect."""
        decision = quality_gate.decide(self._spec, iteration, metrics, verdict)
        previous = self._book.status.iteration_status
        results = [*((previous.quality_results or []) if previous else []), decision.result]
        self._book.update(
            iteration_status=IterationStatus(
                current_iteration=iteration,
                max_iterations=quality_gate.max_iterations(self._spec),
                phase=decision.phase,
                quality_results=results,
            )
        )
        remedy = decision.result.remedy or ""
        if decision.phase == IterationPhase.PASSED:
            self._condition(st.QUALITY_GATE, ConditionStatus.TRUE, "Passed", f"coverage {decision.result.coverage:.2f}")
            return False
        if decision.phase == IterationPhase.EXHAUSTED:
            text = f"quality gate exhausted after {iteration + 1} evaluations: {remedy}"
            self._condition(st.QUALITY_GATE, ConditionStatus.FALSE, "Exhausted", text)
            self._fail("QualityGateExhausted", text)
            return False
        delay = quality_gate.recollect_delay(self._spec)
        self._condition(
            st.QUALITY_GATE,
            ConditionStatus.FALSE,
            "Recollecting",
            f"iteration {iteration + 1}: {remedy}; re-collecting in {format_duration(delay)}",
        )
        await workflow.sleep(delay)
        return True

    def _record_verdict(self, verdict: hypothesis.Verdict) -> None:
        if verdict.verdict is None:
            return
        self._book.update(hypothesis_result=verdict.verdict)
        state = ConditionStatus.TRUE if verdict.verdict == HypothesisVerdict.VALIDATED else ConditionStatus.FALSE
        self._condition(st.HYPOTHESIS, state, verdict.verdict.capitalize(), verdict.message)

    async def _cleanup_by_policy(self) -> None:
        if not self._provision_started or self._cleaned:
            return
        if self._book.phase == ExperimentPhase.FAILED and self._spec.cleanup_policy == CleanupPolicy.ON_SUCCESS:
            self._cleanup_retained = True
            until = "its deletion" if self._ttl_at() is None else f"its TTL ({self._ttl_at()})"
            self._condition(
                st.CLEANUP,
                ConditionStatus.FALSE,
                "RetainedForDebugging",
                f"cleanupPolicy OnSuccess: kept until {until}",
            )
            return
        await self._cleanup()

    async def _cleanup(self) -> None:
        """Delete everything the experiment created; report leftovers. Never masks the original failure."""
        budget = PhaseBudget("cleanup", self._spec.deadline("cleanup"))
        targets = [
            c.CleanupTarget(
                name=t.name,
                cluster_type=t.cluster.type,
                cluster_name=names.cluster_name(self._exp, t.name, t.cluster.type),
            )
            for t in self._spec.targets
        ]
        try:
            report = await self._call(
                c.CLEANUP_EXPERIMENT,
                c.CleanupInput(experiment=self._exp, targets=targets),
                c.CleanupReport,
                p.cleanup_call(budget.remaining()),
                budget,
                "cleanup of clusters, applications and workflows",
            )
        except ExperimentFailed as failure:
            report = c.CleanupReport(not_deleted=[f"cleanup did not finish: {failure.message}"])
        self._cleaned = True
        self._cleanup_retained = False
        self._not_deleted = report.not_deleted
        if report.not_deleted:
            text = "could not delete: " + "; ".join(report.not_deleted)
            self._condition(st.CLEANUP, ConditionStatus.FALSE, "Incomplete", text)
            self._book.update(resources_cleaned=False)
        else:
            self._condition(st.CLEANUP, ConditionStatus.TRUE, "Cleaned", f"deleted {len(report.deleted)} objects")
            self._book.update(resources_cleaned=True)

    async def _publish_analyse_review(self) -> None:
        if not (self._spec.publish and self._book.phase == ExperimentPhase.COMPLETE and self._results_stored):
            self._book.update(analysis_phase=AnalysisPhase.SKIPPED, review_phase=ReviewPhase.SKIPPED)
            return
        budget = PhaseBudget("results", self._spec.deadline("results"))
        try:
            self._pr = await self._call(
                c.PUBLISH_RESULTS,
                c.PublishResultsInput(experiment=self._exp, summary_key=self._summary_key, title=self._spec.title),
                c.PublishedResults,
                p.slow_call(budget.remaining()),
                budget,
                "the results pull request",
            )
            self._book.update(
                published=True,
                publish_branch=self._pr.branch,
                publish_pr_number=self._pr.pr_number,
                publish_pr_url=self._pr.pr_url,
            )
            self._condition(st.PUBLISHED, ConditionStatus.TRUE, "PullRequestOpened", self._pr.pr_url)
        except ExperimentFailed as failure:
            self._book.update(published=False)
            self._condition(st.PUBLISHED, ConditionStatus.FALSE, "PublishFailed", failure.message)
        await self._analyse(budget)
        if self._pr is None:
            self._book.update(review_phase=ReviewPhase.SKIPPED)
            return
        await self._review_gate(self._pr)

    async def _analyse(self, budget: PhaseBudget) -> None:
        config = self._spec.analyzer_config
        sections = [AnalyzerSection(s) for s in config.sections] if config else DEFAULT_SECTIONS
        job = names.analysis_job_name(self._exp)
        self._book.update(analysis_job_name=job, analysis_phase=AnalysisPhase.RUNNING)
        try:
            outcome = await self._call(
                c.RUN_ANALYSIS,
                c.RunAnalysisInput(experiment=self._exp, summary_key=self._summary_key, sections=sections),
                c.AnalysisOutcome,
                p.long_wait(budget.remaining()),
                budget,
                f"analysis job {job}",
            )
        except ExperimentFailed as failure:
            outcome = c.AnalysisOutcome(job_name=job, succeeded=False, message=failure.message)
        if outcome.succeeded:
            self._book.update(analysis_phase=AnalysisPhase.SUCCEEDED)
            self._condition(
                st.ANALYSIS_COMPLETE, ConditionStatus.TRUE, "Succeeded", outcome.message or "analysis stored"
            )
        else:
            self._book.update(analysis_phase=AnalysisPhase.FAILED)
            self._condition(st.ANALYSIS_COMPLETE, ConditionStatus.FALSE, "Failed", outcome.message or "analysis failed")
            self._fail("AnalysisFailed", f"analysis job {job} failed: {outcome.message or 'no message'}")

    async def _review_gate(self, pr: c.PublishedResults) -> None:
        self._review_open = True
        self._book.update(review_phase=ReviewPhase.PENDING)
        self._condition(
            st.REVIEW_GATE,
            ConditionStatus.FALSE,
            "AwaitingReview",
            f"approve or reject PR #{pr.pr_number} ({pr.pr_url}): `labctl review approve|reject`",
        )
        deadline = self._spec.deadline("review")
        try:
            await workflow.wait_condition(lambda: self._review is not None, timeout=deadline)
        except TimeoutError:
            await self._close_pending_pr("DeadlineExceeded", f"review deadline {format_duration(deadline)} passed")
            self._fail(
                "DeadlineExceeded",
                f"review deadline {format_duration(deadline)} exceeded"
                f" while waiting for approve/reject of PR #{pr.pr_number}",
            )
            return
        review = cast(ReviewRequest, self._review)
        approve = review.decision == ReviewDecision.APPROVE
        action, phase, reason = (
            (c.MERGE_RESULTS_PR, ReviewPhase.APPROVED, "Approved")
            if approve
            else (c.CLOSE_RESULTS_PR, ReviewPhase.REJECTED, "Rejected")
        )
        try:
            await self._pr_action(action, pr)
        except ExperimentFailed as failure:
            self._condition(
                st.REVIEW_GATE, ConditionStatus.FALSE, "MergeFailed" if approve else "CloseFailed", failure.message
            )
            self._review_open = False
            return
        self._review_open = False
        self._book.update(review_phase=phase)
        self._condition(
            st.REVIEW_GATE, ConditionStatus.TRUE, reason, f"PR #{pr.pr_number} {reason.lower()} by {review.reviewer}"
        )

    async def _pr_action(self, action: str, pr: c.PublishedResults) -> None:
        budget = PhaseBudget("review", p.REVIEW_ACTION.schedule_to_close_timeout)
        await self._call(
            action,
            c.ResultsPullRequest(experiment=self._exp, pr_number=pr.pr_number, branch=pr.branch),
            type(None),
            p.REVIEW_ACTION,
            budget,
            f"PR #{pr.pr_number} to be {'merged' if action == c.MERGE_RESULTS_PR else 'closed'}",
        )

    async def _close_pending_pr(self, reason: str, message: str) -> None:
        if not (self._review_open and self._pr):
            return
        self._review_open = False
        try:
            await self._pr_action(c.CLOSE_RESULTS_PR, self._pr)
        except ExperimentFailed as failure:
            message = f"{message}; closing PR #{self._pr.pr_number} failed: {failure.message}"
        self._book.update(review_phase=ReviewPhase.SKIPPED)
        self._condition(st.REVIEW_GATE, ConditionStatus.FALSE, reason, message)

    # ------------------------------------------------------------------------ TTL and cancel

    async def _end_at_ttl(self) -> None:
        days = self._spec.ttl_days
        if not self._book.finished():
            what = f"ttlDays {days} reached"
            if self._argo_succeeded or self._awaiting_completion:
                await self._complete_with_results(
                    "TTLExpired", f"{what}; manual experiment ended at its TTL", gate=False
                )
            else:
                self._fail("TTLExpired", f"{what} while {self._book.phase}")
                if self._reached_running and not self._results_stored:
                    await self._collect_and_store(gate=False)
        await self._close_pending_pr("TTLExpired", f"ttlDays {days} reached before the review")
        if self._provision_started and not self._cleaned:
            await self._cleanup()
        await self._delete_experiment("TTLExpired")

    async def _linger_until_ttl(self) -> None:
        """A finished experiment stays visible until its TTL, then the object is deleted."""
        left = self._ttl_left()
        if left is None:
            if self._cleanup_retained:
                await workflow.wait_condition(lambda: False)  # until the Experiment is deleted
            return
        if left > timedelta(0):
            await workflow.sleep(left)
        if self._cleanup_retained:
            await _uncancellable(self._cleanup())
        await _uncancellable(self._delete_experiment("TTLExpired"))

    async def _end_on_cancel(self) -> None:
        if not self._book.finished():
            self._fail("Cancelled", f"the Experiment was deleted while {self._book.phase}")
        await self._close_pending_pr("Cancelled", "the Experiment was deleted before the review")
        if self._provision_started and not self._cleaned:
            await self._cleanup()

    async def _delete_experiment(self, reason: str) -> None:
        self._ready_final_note(f"deleting the Experiment object ({reason}); results stay in S3 and Temporal")
        try:
            await workflow.execute_activity(
                c.DELETE_EXPERIMENT,
                c.DeleteExperimentInput(experiment=self._exp, reason=reason),
                task_queue=c.GATEWAY_TASK_QUEUE,
                start_to_close_timeout=p.STATUS_REPORT_TIMEOUT,
                schedule_to_close_timeout=p.STATUS_REPORT_GIVE_UP,
                retry_policy=p.STATUS_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("deleting the Experiment failed: %s", err)

    # ------------------------------------------------------------------------ status out

    async def _status_pump(self) -> None:
        """Send the newest status whenever it changed; changes made during a send are coalesced."""
        while True:
            await workflow.wait_condition(lambda: self._book.version > self._reported)
            version = self._book.version
            try:
                await workflow.execute_activity(
                    c.REPORT_STATUS,
                    c.ReportStatusInput(experiment=self._exp, sequence=version, status=self._book.snapshot()),
                    task_queue=c.GATEWAY_TASK_QUEUE,
                    start_to_close_timeout=p.STATUS_REPORT.start_to_close_timeout,
                    schedule_to_close_timeout=p.STATUS_REPORT.schedule_to_close_timeout,
                    retry_policy=p.STATUS_REPORT.retry_policy,
                )
            except ActivityError as err:
                workflow.logger.warning("status report %d lost: %s", version, err)
            self._reported = version

    async def _flush(self, pump: asyncio.Task[None]) -> None:
        await workflow.wait_condition(lambda: self._reported >= self._book.version and workflow.all_handlers_finished())
        pump.cancel()
        await _settle(pump)

    def _enter(self, phase: ExperimentPhase, reason: str, message: str) -> None:
        if self._book.set_phase(phase, workflow.now()):
            self._upsert_search_attributes()
        done = {ExperimentPhase.COMPLETE: ConditionStatus.TRUE, ExperimentPhase.FAILED: ConditionStatus.FALSE}
        self._ready(done.get(phase, ConditionStatus.UNKNOWN), reason, message)

    def _finish(self, phase: ExperimentPhase, reason: str, message: str) -> None:
        self._enter(phase, reason, message)

    def _fail(self, reason: str, message: str) -> None:
        """Failed with this reason, unless already failed (the first failure counts) or Complete (what
        fails later, PR, analysis or review, is a condition of its own)."""
        if self._book.phase == ExperimentPhase.FAILED:
            return
        if self._changes.terminal_stays_terminal and self._book.finished():
            return
        self._enter(ExperimentPhase.FAILED, reason, message)

    def _ready(self, status: ConditionStatus, reason: str, message: str) -> None:
        self._condition(st.READY, status, reason, message)

    def _ready_final_note(self, note: str) -> None:
        ready = self._book.status.condition(st.READY)
        if ready:
            self._ready(ready.status, ready.reason, f"{ready.message}; {note}")

    def _condition(self, type_: str, status: ConditionStatus, reason: str, message: str) -> None:
        self._book.set_condition(type_, status, reason, message, workflow.now())

    def _upsert_search_attributes(self) -> None:
        updates: list[Any] = [sa.EXPERIMENT_PHASE.value_set(str(self._book.phase))]
        if self._search_phase is None:
            updates += [
                sa.EXPERIMENT_NAME.value_set(self._exp.name),
                sa.EXPERIMENT_NAMESPACE.value_set(self._exp.namespace),
                sa.TARGET_TYPES.value_set(sorted({str(t.cluster.type) for t in self._spec.targets})),
            ]
        self._search_phase = str(self._book.phase)
        workflow.upsert_search_attributes(updates)

    def _outcome(self) -> ExperimentOutcome:
        ready = self._book.status.condition(st.READY)
        return ExperimentOutcome(
            phase=self._book.phase or ExperimentPhase.PENDING,
            reason=ready.reason if ready else "",
            message=ready.message if ready else "",
            results_url=self._book.status.results_url,
            not_deleted=self._not_deleted,
        )

    # ------------------------------------------------------------------------ helpers

    def _store_reserve(self) -> timedelta:
        """What storing the results may always take: the reserve, or the whole results deadline if shorter."""
        return min(p.STORE_RESULTS_RESERVE, self._spec.deadline("results"))

    def _ttl_at(self) -> datetime | None:
        days = self._spec.ttl_days
        return None if days == 0 else self._exp.creation_timestamp + timedelta(days=days)

    def _ttl_left(self) -> timedelta | None:
        at = self._ttl_at()
        return None if at is None else at - workflow.now()

    async def _call(
        self,
        activity: str,
        arg: Any,
        result_type: type[T],
        options: p.CallOptions,
        budget: PhaseBudget,
        waiting_for: str,
    ) -> T:
        """Execute an activity; map its permanent error or the phase deadline to ExperimentFailed.

        A short call is never cancelled: when the stage is stopped (sibling failure, TTL, deletion) the
        call in flight finishes first, so cleanup cannot race a create that is still running, and no
        cancel request can name an activity that completed meanwhile (the time-skipping test server
        fails the workflow task on such a request and the run hangs). Polling waits are abandoned.
        """
        try:
            call = workflow.execute_activity(
                activity,
                arg,
                result_type=result_type,
                task_queue=c.EXPERIMENTS_TASK_QUEUE,
                start_to_close_timeout=options.start_to_close_timeout,
                schedule_to_close_timeout=options.schedule_to_close_timeout,
                retry_policy=options.retry_policy,
                heartbeat_timeout=options.heartbeat_timeout,
                cancellation_type=_cancellation(options),
            )
            result = await (call if options.abandon_on_cancel else _uncancellable(call))
        except ActivityError as err:
            raise _failure_from(err, budget, waiting_for) from err
        return cast(T, result)

    # ------------------------------------------------------------------------ handlers

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ExperimentStatus:
        return self._book.snapshot()

    @workflow.update(name=COMPLETE_UPDATE)
    async def complete(self, request: CompleteRequest) -> str:
        self._complete = self._complete or request
        return f"completion of {self._exp.name} requested by {request.requested_by}"

    @complete.validator
    def _validate_complete(self, request: CompleteRequest) -> None:
        problem = self._complete_problem()
        if problem:
            raise ValueError(problem)

    @workflow.signal(name=COMPLETE_SIGNAL)
    def request_complete(self, request: CompleteRequest) -> None:
        problem = self._complete_problem()
        if problem:
            workflow.logger.warning("complete signal ignored: %s", problem)
            return
        self._complete = self._complete or request

    def _complete_problem(self) -> str | None:
        if self._spec.workflow.completion.mode != CompletionMode.MANUAL:
            return "this experiment runs in workflow mode; it completes when its Argo workflow succeeds"
        if self._book.finished():
            return f"the experiment already finished ({self._book.phase})"
        return None

    @workflow.update(name=REVIEW_UPDATE)
    async def review(self, request: ReviewRequest) -> str:
        self._review = self._review or request
        if not self._review_open and self._book.status.review_phase is None:
            return f"{request.decision} recorded; applied when the review gate opens"
        return f"{request.decision} recorded"

    @review.validator
    def _validate_review(self, request: ReviewRequest) -> None:
        problem = self._review_problem(request)
        if problem:
            raise ValueError(problem)

    @workflow.signal(name=REVIEW_SIGNAL)
    def submit_review(self, request: ReviewRequest) -> None:
        problem = self._review_problem(request)
        if problem:
            workflow.logger.warning("review signal ignored: %s", problem)
            return
        self._review = self._review or request

    def _review_problem(self, request: ReviewRequest) -> str | None:
        if not self._spec.publish:
            return "this experiment does not publish results; there is no review"
        if self._review and self._review.decision != request.decision:
            done = "approved" if self._review.decision == ReviewDecision.APPROVE else "rejected"
            return f"already {done} by {self._review.reviewer}"
        phase = self._book.status.review_phase
        if phase in (ReviewPhase.APPROVED, ReviewPhase.REJECTED, ReviewPhase.SKIPPED) and not self._review:
            return f"the review gate is closed ({phase})"
        return None


def _cancellation(options: p.CallOptions) -> ActivityCancellationType:
    return ActivityCancellationType.ABANDON if options.abandon_on_cancel else ActivityCancellationType.TRY_CANCEL


def _failure_from(err: ActivityError, budget: PhaseBudget, waiting_for: str) -> ExperimentFailed:
    cause = err.cause
    if isinstance(cause, ActivityTimeout) or err.retry_state == RetryState.TIMEOUT:
        last = _last_application_error(err)
        detail = f"; last error: {last.message}" if last else ""
        reason = c.TRANSIENT_ERROR_REASONS.get(last.type or "", "DeadlineExceeded") if last else "DeadlineExceeded"
        return ExperimentFailed(
            reason,
            f"{budget.name} deadline of {format_duration(budget.deadline)} exceeded while waiting for {waiting_for}"
            + detail,
        )
    if isinstance(cause, ApplicationError):
        return ExperimentFailed(c.reason_for(cause.type), f"{waiting_for}: {cause.message}")
    return ExperimentFailed("ActivityFailed", f"{waiting_for}: {err}")


def _last_application_error(err: BaseException) -> ApplicationError | None:
    """The last attempt's failure behind a timeout, if an activity raised one."""
    node: BaseException | None = err
    while node is not None:
        if isinstance(node, ApplicationError):
            return node
        node = getattr(node, "cause", None) or node.__cause__
    return None
