"""RUN_ANALYSIS against a local Messages-API server and real SeaweedFS: passes, retries, failures, no-key mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from activities.publish.claude_analysis import AnalysisActivities
from activities.publish.contracts import RunAnalysisInput
from activities.results.pipeline import report_key
from activities.results.s3_store import ResultsStore
from activities.settings import ResultsSettings
from api import names
from api.experiment import AnalyzerSection
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.results.conftest import experiment_ref
from tests.results.test_report import sample_summary
from tests.results.test_store_results import activity_env

on_session_loop = pytest.mark.asyncio(loop_scope="session")
ALL_SECTIONS = [
    AnalyzerSection(s) for s in ("abstract", "performanceAnalysis", "glossary", "finopsAnalysis", "feedback", "body")
]


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(retry_after=1.0) as fake:
        yield fake


def with_claude(settings: ResultsSettings, fake: FakeAnthropic, **extra: Any) -> ResultsSettings:
    update = {"anthropic_api_key": SecretStr(fake.api_key), "anthropic_base_url": fake.url} | extra
    return settings.model_copy(update=update)


def stored_summary(settings: ResultsSettings) -> tuple[ResultsStore, RunAnalysisInput]:
    store = ResultsStore.from_settings(settings)
    summary = sample_summary()
    ref = experiment_ref(summary["name"])
    store.put_json(names.summary_key(ref), summary)
    inp = RunAnalysisInput(experiment=ref, summary_key=names.summary_key(ref), sections=ALL_SECTIONS)
    return store, inp


@on_session_loop
async def test_passes_run_validated_and_merge_into_summary(s3_settings: ResultsSettings, claude: FakeAnthropic) -> None:
    settings = with_claude(s3_settings, claude, analyzer_model="claude-test-model", analyzer_max_tokens=1234)
    store, inp = stored_summary(settings)
    outcome = await activity_env().run(AnalysisActivities(settings).run_analysis, inp)
    assert outcome.succeeded, outcome.message
    assert outcome.job_name == names.analysis_job_name(inp.experiment)
    assert claude.passes_called() == [
        "pass_1_plan",
        "pass_2_core",
        "pass_3_finops_secops",
        "pass_4_capabilities",
        "pass_5_body_synthesis",
    ]
    assert {c["model"] for c in claude.calls} == {"claude-test-model"}
    assert {c["max_tokens"] for c in claude.calls} == {1234}
    summary = store.get_json(inp.summary_key)
    analysis = summary["analysis"]
    assert analysis["abstract"].startswith("Envoy sustained") and analysis["aiGenerated"] is True
    assert analysis["glossary"] == [{"term": "p99", "definition": "99th percentile latency"}]
    assert "targetAnalysis" not in analysis and "architectureDiagram" not in analysis  # not requested
    assert analysis["hypothesisVerdict"] == "validated"  # extra keys survive, as in the original
    assert summary["analyzerConfig"]["sections"][0] == "abstract"
    assert store.get_json(outcome.analysis_key or "")["summary"] == analysis["abstract"]
    prefix = names.results_prefix(inp.experiment)
    assert store.get_json(f"{prefix}analysis/pass_2_core.json")["abstract"]
    assert len(store.get_json(f"{prefix}analysis/trace.json")) == 5
    assert "Envoy sustained" in store.get(report_key(inp.experiment)).decode()


@on_session_loop
async def test_rate_limits_and_overload_are_retried(s3_settings: ResultsSettings, claude: FakeAnthropic) -> None:
    settings = with_claude(s3_settings, claude)
    _, inp = stored_summary(settings)
    claude.fail_next(429, 529, 429)
    outcome = await activity_env().run(AnalysisActivities(settings).run_analysis, inp)
    assert outcome.succeeded, outcome.message
    assert claude.passes_called()[:4] == ["pass_1_plan"] * 4
    after_429 = claude.calls[1]["at"] - claude.calls[0]["at"]
    assert after_429 >= 1.0, f"asked again {after_429:.2f} s after a 429 with retry-after: 1"


@on_session_loop
async def test_passes_are_streamed_and_an_overload_mid_stream_is_retried(
    s3_settings: ResultsSettings, claude: FakeAnthropic
) -> None:
    settings = with_claude(s3_settings, claude)
    _, inp = stored_summary(settings)
    claude.overload_midstream = 1
    outcome = await activity_env().run(AnalysisActivities(settings).run_analysis, inp)
    assert outcome.succeeded, outcome.message
    assert claude.passes_called()[:2] == ["pass_1_plan"] * 2
    assert all(call["stream"] for call in claude.calls)
    assert [call["finished"] for call in claude.calls[:2]] == [False, True]


@on_session_loop
async def test_a_pass_that_keeps_failing_is_recorded_not_raised(
    s3_settings: ResultsSettings, claude: FakeAnthropic
) -> None:
    settings = with_claude(s3_settings, claude, analyzer_attempts=2)
    store, inp = stored_summary(settings)
    claude.invalid_passes.add("pass_3_finops_secops")
    claude.fail_next(529, 529)  # plan pass gives up after its two attempts
    outcome = await activity_env().run(AnalysisActivities(settings).run_analysis, inp)
    assert not outcome.succeeded
    assert "pass_1_plan: HTTP 529" in (outcome.message or "")
    assert "pass_3_finops_secops: invalid JSON answer" in (outcome.message or "")
    analysis = store.get_json(inp.summary_key)["analysis"]
    assert analysis["abstract"].startswith("Envoy") and "finopsAnalysis" not in analysis
    assert len(analysis["failedPasses"]) == 2


@on_session_loop
async def test_a_wrong_key_fails_the_analysis_without_retrying(
    s3_settings: ResultsSettings, claude: FakeAnthropic
) -> None:
    settings = with_claude(s3_settings, claude).model_copy(update={"anthropic_api_key": SecretStr("wrong")})
    _, inp = stored_summary(settings)
    outcome = await activity_env().run(AnalysisActivities(settings).run_analysis, inp)
    assert not outcome.succeeded and "HTTP 401" in (outcome.message or "")


@on_session_loop
async def test_without_a_key_a_computed_summary_is_marked_not_ai_written(s3_settings: ResultsSettings) -> None:
    store, inp = stored_summary(s3_settings)
    outcome = await activity_env().run(AnalysisActivities(s3_settings).run_analysis, inp)
    assert outcome.succeeded and "not AI-written" in (outcome.message or "")
    analysis = store.get_json(inp.summary_key)["analysis"]
    assert analysis["aiGenerated"] is False
    assert analysis["abstract"].startswith("Computed summary — not AI-written.")
    assert "Machine verdict: invalidated" in analysis["abstract"]
    assert "latency_p99: loadgen" in analysis["abstract"]  # the biggest difference between targets
    assert "Computed summary — not AI-written." in store.get(report_key(inp.experiment)).decode()


@on_session_loop
async def test_missing_summary_is_a_recorded_failure(s3_settings: ResultsSettings) -> None:
    inp = RunAnalysisInput(experiment=experiment_ref("ghost"), summary_key="ghost/summary.json", sections=ALL_SECTIONS)
    outcome = await activity_env().run(AnalysisActivities(s3_settings).run_analysis, inp)
    assert not outcome.succeeded and "summary not readable" in (outcome.message or "")


@on_session_loop
async def test_analysis_refreshes_the_published_data_file(s3_settings: ResultsSettings) -> None:
    with FakeGitHub() as gh:
        repo = gh.add_repo("illMadeCoder/k8s-ai-cloud-testbed")
        repo.refs["experiment/gw-report"] = repo.refs["main"]
        repo.files["experiment/gw-report"] = {"site/data/gw-report.json": "{}"}
        settings = s3_settings.model_copy(update={"github_token": SecretStr(gh.token), "github_api_url": gh.url})
        _, inp = stored_summary(settings)
        await activity_env().run(AnalysisActivities(settings).run_analysis, inp)
    assert '"aiGenerated": false' in repo.files["experiment/gw-report"]["site/data/gw-report.json"]
    assert repo.commits == [("experiment/gw-report", "data: Update gw-report experiment results with analysis")]
