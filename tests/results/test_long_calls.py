"""A Messages API slower than the heartbeat timeout, on a real worker of the Temporal dev server.

The dev server enforces heartbeat timeouts; ActivityEnvironment does not, and the old fake answered at
once, which is how an analysis that could never finish against the real API passed every test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.activity import _Definition
from temporalio.testing import WorkflowEnvironment

from activities.publish.claude_analysis import AnalysisActivities
from activities.publish.contracts import RUN_ANALYSIS, AnalysisOutcome
from activities.results.pipeline import ResultsActivities
from activities.results.s3_store import ResultsStore
from activities.settings import ResultsSettings
from api import names
from api.experiment import AnalyzerSection, ExperimentPhase
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.fixtures.eventually import eventually_async
from tests.fixtures.one_activity import OneActivityWorker, OneCall
from tests.results.test_analyzer import stored_summary, with_claude
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from worker.app import register_search_attributes
from workflows.experiment import ExperimentWorkflow
from workflows.messages import ReviewDecision, ReviewRequest

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]
REPO = "lab/results"
ABSTRACT_PASSES = ["pass_1_plan", "pass_2_core"]


def one_request_per_pass(claude: FakeAnthropic) -> None:
    assert claude.passes_called() == ABSTRACT_PASSES, claude.calls
    assert all(call["stream"] and call["finished"] for call in claude.calls), claude.calls


async def test_a_claude_pass_longer_than_the_heartbeat_timeout_is_asked_once(
    temporal_env: WorkflowEnvironment, s3_settings: ResultsSettings
) -> None:
    """Heartbeat timeout 2 s, 5 s a call: the old analyzer's attempt timed out during its first call."""
    with FakeAnthropic(latency=5.0) as claude:
        settings = with_claude(s3_settings, claude)
        _, inp = stored_summary(settings)
        inp = inp.model_copy(update={"sections": [AnalyzerSection.ABSTRACT]})
        async with OneActivityWorker(temporal_env.client, [AnalysisActivities(settings).run_analysis]) as run:
            result = await run(OneCall(RUN_ANALYSIS, inp, heartbeat_timeout=2.0))
    outcome = AnalysisOutcome.model_validate(result)
    assert outcome.succeeded, outcome.message
    one_request_per_pass(claude)


@dataclass
class LabWithRealResults(FakeLab):
    """The fake lab for clusters, apps and Argo; the real results activities against S3, GitHub and Claude."""

    real: list[Callable[..., Any]] = field(default_factory=list)

    def activities(self) -> list[Callable[..., Any]]:
        replaced = {_Definition.must_from_callable(fn).name for fn in self.real}
        fakes = [fn for fn in super().activities() if _Definition.must_from_callable(fn).name not in replaced]
        return fakes + self.real


async def test_a_published_experiment_with_a_50_s_messages_api_ends_complete_with_its_analysis(
    temporal_env: WorkflowEnvironment, s3_settings: ResultsSettings
) -> None:
    """The issue's done-when: 50 s per Messages call against the workflow's real 30 s heartbeat timeout."""
    await register_search_attributes(temporal_env.client)
    with FakeAnthropic(latency=50.0) as claude, FakeGitHub() as gh:
        gh.add_repo(REPO)
        settings = with_claude(s3_settings, claude).model_copy(
            update={"github_token": SecretStr(gh.token), "github_api_url": gh.url, "github_repo": REPO}
        )
        results, analysis = ResultsActivities(settings), AnalysisActivities(settings)
        lab = LabWithRealResults(
            real=[
                results.store_results,
                results.publish_results,
                results.merge_results_pr,
                results.close_results_pr,
                analysis.run_analysis,
            ]
        )
        experiment = spec(
            ttl_days=0, publish=True, analyzer_config={"sections": ["abstract"]}, deadlines={"results": "8m"}
        )
        name = f"slow-claude-{uuid.uuid4().hex[:6]}"
        async with running(temporal_env, lab, experiment, name=name) as run:
            began = time.monotonic()
            pending = await eventually_async(
                run.status,
                600,
                "the review gate (analysis done)",
                until=lambda s: s.review_phase == "Pending" or s.analysis_phase == "Failed",
                interval=1,
            )
            print(f"\nthe review gate opened {time.monotonic() - began:.1f} s after the start (50 s a Messages call)")
            assert pending.analysis_phase == "Succeeded", pending
            await run.handle.execute_update(
                ExperimentWorkflow.review, ReviewRequest(decision=ReviewDecision.APPROVE, reviewer="alice")
            )
            outcome = await run.result()
            status = await run.status()

    assert outcome.phase == ExperimentPhase.COMPLETE, outcome.message
    assert status.review_phase == "Approved", status
    one_request_per_pass(claude)
    summary = ResultsStore.from_settings(settings).get_json(names.summary_key(run.ref))
    assert summary["analysis"]["aiGenerated"] is True
    assert summary["analysis"]["abstract"].startswith("Envoy sustained")
    assert gh.repos[REPO].pulls[1].merged
