"""Publish, analysis, review: a Complete experiment with ``publish: true`` opens a results pull request,
asks Claude for its analysis and waits for approve/reject (update ``review``, signal ``submit_review``)
within the review deadline; then the PR is merged or closed.

What fails here is a condition of its own (Published, AnalysisComplete, ReviewGate); with the
``terminal-phases-stay-terminal`` patch it no longer turns Complete into Failed.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.lifecycle import Lifecycle

with workflow.unsafe.imports_passed_through():
    from activities.publish.contracts import (
        CLOSE_RESULTS_PR,
        MERGE_RESULTS_PR,
        PUBLISH_RESULTS,
        RUN_ANALYSIS,
        AnalysisOutcome,
        PublishedResults,
        PublishResultsInput,
        ResultsPullRequest,
        RunAnalysisInput,
    )
    from api import names
    from api.base import format_duration
    from api.experiment import AnalysisPhase, AnalyzerSection, ConditionStatus, ExperimentPhase, ReviewPhase
    from workflows import policies
    from workflows.messages import ReviewDecision, ReviewRequest
    from workflows.status import ANALYSIS_COMPLETE, PUBLISHED, REVIEW_GATE

DEFAULT_SECTIONS = (
    AnalyzerSection.ABSTRACT,
    AnalyzerSection.TARGET_ANALYSIS,
    AnalyzerSection.PERFORMANCE_ANALYSIS,
    AnalyzerSection.METRIC_INSIGHTS,
    AnalyzerSection.BODY,
    AnalyzerSection.FEEDBACK,
    AnalyzerSection.ARCHITECTURE_DIAGRAM,
)


async def publish_analyse_review(life: Lifecycle) -> None:
    summary_key = life.progress.summary_key
    if not (life.spec.publish and life.book.phase == ExperimentPhase.COMPLETE and summary_key is not None):
        life.book.update(analysis_phase=AnalysisPhase.SKIPPED, review_phase=ReviewPhase.SKIPPED)
        return
    budget = PhaseBudget("results", life.spec.deadline("results"))
    pr: PublishedResults | None = None
    try:
        pr = await call(
            PUBLISH_RESULTS,
            PublishResultsInput(experiment=life.experiment, summary_key=summary_key, title=life.spec.title),
            PublishedResults,
            policies.slow_call(budget.remaining()),
            budget,
            "the results pull request",
        )
        life.book.update(
            published=True, publish_branch=pr.branch, publish_pr_number=pr.pr_number, publish_pr_url=pr.pr_url
        )
        life.condition(PUBLISHED, ConditionStatus.TRUE, "PullRequestOpened", pr.pr_url)
    except ExperimentFailed as failure:
        life.book.update(published=False)
        life.condition(PUBLISHED, ConditionStatus.FALSE, "PublishFailed", failure.message)
    await _analyse(life, summary_key, budget)
    if pr is None:
        life.book.update(review_phase=ReviewPhase.SKIPPED)
        return
    await _review_gate(life, pr)


def review_problem(life: Lifecycle, request: ReviewRequest) -> str | None:
    """Why a review decision is refused now, or None when it is accepted (a repeat of it is too)."""
    if not life.spec.publish:
        return "this experiment does not publish results; there is no review"
    earlier = life.review_request
    if earlier and earlier.decision != request.decision:
        done = "approved" if earlier.decision == ReviewDecision.APPROVE else "rejected"
        return f"already {done} by {earlier.reviewer}"
    phase = life.book.status.review_phase
    if phase in (ReviewPhase.APPROVED, ReviewPhase.REJECTED, ReviewPhase.SKIPPED) and not earlier:
        return f"the review gate is closed ({phase})"
    return None


async def close_pending_pr(life: Lifecycle, reason: str, message: str) -> None:
    """Close the PR whose review is still open (TTL, deletion, review deadline); the gate says why."""
    pr = life.progress.open_review
    if pr is None:
        return
    life.progress.open_review = None
    try:
        await _pr_action(life, CLOSE_RESULTS_PR, pr)
    except ExperimentFailed as failure:
        message = f"{message}; closing PR #{pr.pr_number} failed: {failure.message}"
    life.book.update(review_phase=ReviewPhase.SKIPPED)
    life.condition(REVIEW_GATE, ConditionStatus.FALSE, reason, message)


async def _analyse(life: Lifecycle, summary_key: str, budget: PhaseBudget) -> None:
    config = life.spec.analyzer_config
    sections = [AnalyzerSection(s) for s in config.sections] if config else list(DEFAULT_SECTIONS)
    job = names.analysis_job_name(life.experiment)
    life.book.update(analysis_job_name=job, analysis_phase=AnalysisPhase.RUNNING)
    try:
        outcome = await call(
            RUN_ANALYSIS,
            RunAnalysisInput(experiment=life.experiment, summary_key=summary_key, sections=sections),
            AnalysisOutcome,
            policies.long_wait(budget.remaining()),
            budget,
            f"analysis job {job}",
        )
    except ExperimentFailed as failure:
        outcome = AnalysisOutcome(job_name=job, succeeded=False, message=failure.message)
    if outcome.succeeded:
        life.book.update(analysis_phase=AnalysisPhase.SUCCEEDED)
        life.condition(ANALYSIS_COMPLETE, ConditionStatus.TRUE, "Succeeded", outcome.message or "analysis stored")
    else:
        life.book.update(analysis_phase=AnalysisPhase.FAILED)
        life.condition(ANALYSIS_COMPLETE, ConditionStatus.FALSE, "Failed", outcome.message or "analysis failed")
        life.fail("AnalysisFailed", f"analysis job {job} failed: {outcome.message or 'no message'}")


async def _review_gate(life: Lifecycle, pr: PublishedResults) -> None:
    life.progress.open_review = pr
    life.book.update(review_phase=ReviewPhase.PENDING)
    life.condition(
        REVIEW_GATE,
        ConditionStatus.FALSE,
        "AwaitingReview",
        f"approve or reject PR #{pr.pr_number} ({pr.pr_url}): `labctl review approve|reject`",
    )
    deadline = life.spec.deadline("review")
    try:
        await workflow.wait_condition(lambda: life.review_request is not None, timeout=deadline)
    except TimeoutError:
        await close_pending_pr(life, "DeadlineExceeded", f"review deadline {format_duration(deadline)} passed")
        life.fail(
            "DeadlineExceeded",
            f"review deadline {format_duration(deadline)} exceeded"
            f" while waiting for approve/reject of PR #{pr.pr_number}",
        )
        return
    review = life.review_request
    assert review is not None  # the wait ended on it
    approve = review.decision == ReviewDecision.APPROVE
    action, phase, reason = (
        (MERGE_RESULTS_PR, ReviewPhase.APPROVED, "Approved")
        if approve
        else (CLOSE_RESULTS_PR, ReviewPhase.REJECTED, "Rejected")
    )
    try:
        await _pr_action(life, action, pr)
    except ExperimentFailed as failure:
        life.condition(REVIEW_GATE, ConditionStatus.FALSE, "MergeFailed" if approve else "CloseFailed", failure.message)
        life.progress.open_review = None
        return
    life.progress.open_review = None
    life.book.update(review_phase=phase)
    life.condition(
        REVIEW_GATE, ConditionStatus.TRUE, reason, f"PR #{pr.pr_number} {reason.lower()} by {review.reviewer}"
    )


async def _pr_action(life: Lifecycle, action: str, pr: PublishedResults) -> None:
    budget = PhaseBudget("review", policies.REVIEW_ACTION.schedule_to_close_timeout)
    await call(
        action,
        ResultsPullRequest(experiment=life.experiment, pr_number=pr.pr_number, branch=pr.branch),
        type(None),
        policies.REVIEW_ACTION,
        budget,
        f"PR #{pr.pr_number} to be {'merged' if action == MERGE_RESULTS_PR else 'closed'}",
    )
