"""The whole results pipeline for a two-target comparison, activity after activity, as the workflow calls them.

Real SeaweedFS, Prometheus and VictoriaMetrics; local GitHub and Anthropic fakes; the report opened in Chromium.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from activities.publish.claude_analysis import AnalysisActivities
from activities.publish.contracts import PublishResultsInput, ResultsPullRequest, RunAnalysisInput
from activities.results import judgement
from activities.results.contracts import CollectMetricsInput, StoreResultsInput
from activities.results.pipeline import ResultsActivities, report_key
from activities.settings import ResultsSettings
from api import names
from api.experiment import AnalyzerSection
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.fakes.kube_proxy import FakeKubeApi, FakeService, serve
from tests.fixtures.metrics import Prometheus, VictoriaMetrics
from tests.results.browser import render
from tests.results.conftest import comparison_spec, experiment_ref
from tests.results.test_metrics import _seed_recent
from tests.results.test_store_results import activity_env, finished_status

REPO = "illMadeCoder/k8s-ai-cloud-testbed"


@pytest.mark.asyncio(loop_scope="session")
async def test_two_target_comparison_from_metrics_to_merged_pr(
    s3_settings: ResultsSettings, prometheus: Prometheus, victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> None:
    exp = experiment_ref(f"e2e-{int(time.time() * 1000) % 10**8}")
    _seed_recent(prometheus, exp.name, rps=130.0, p99=0.1, pod="gw-0", namespace=names.workload_namespace(exp))
    _seed_recent(victoria_metrics, exp.name, rps=110.0, p99=0.2, pod="lg-0", namespace=names.workload_namespace(exp))
    app = FakeKubeApi(services=[FakeService("monitoring", "prometheus-server", [9090], upstream=prometheus.url)])
    loadgen = FakeKubeApi(services=[FakeService("monitoring", "vmselect", [8481, 8428], upstream=victoria_metrics.url)])
    spec = comparison_spec()
    with (
        serve(app) as app_api,
        serve(loadgen) as lg_api,
        FakeGitHub() as gh,
        FakeAnthropic() as claude,
    ):
        gh.add_repo(REPO)
        settings = s3_settings.model_copy(
            update={
                "github_token": SecretStr(gh.token),
                "github_api_url": gh.url,
                "anthropic_api_key": SecretStr(claude.api_key),
                "anthropic_base_url": claude.url,
            }
        )
        kubeconfigs = {"app": app.kubeconfig(app_api.url), "loadgen": loadgen.kubeconfig(lg_api.url)}

        async def kubeconfig(target: str, cluster_type: str, cluster: str) -> str | None:
            return kubeconfigs[target]

        results, analysis = ResultsActivities(settings, kubeconfig), AnalysisActivities(settings)
        env = activity_env()
        collection = await env.run(
            results.collect_metrics,
            CollectMetricsInput(experiment=exp, spec=spec, cluster_names={"app": "a", "loadgen": "l"}),
        )
        verdict = judgement.evaluate(spec.hypothesis, collection.values)
        stored = await env.run(
            results.store_results,
            StoreResultsInput(
                experiment=exp,
                spec=spec,
                status=finished_status(exp.creation_timestamp),
                snapshot_key=collection.snapshot_key,
                criteria=verdict.criteria,
            ),
        )
        pr = await env.run(
            results.publish_results,
            PublishResultsInput(experiment=exp, summary_key=stored.summary_key, title=spec.title),
        )
        outcome = await env.run(
            analysis.run_analysis,
            RunAnalysisInput(
                experiment=exp,
                summary_key=stored.summary_key,
                sections=[AnalyzerSection.ABSTRACT, AnalyzerSection.GLOSSARY],
            ),
        )
        await env.run(
            results.merge_results_pr, ResultsPullRequest(experiment=exp, pr_number=pr.pr_number, branch=pr.branch)
        )
        repo = gh.repos[REPO]

    assert outcome.succeeded, outcome.message
    summary = results.store.get_json(stored.summary_key)
    assert set(summary["metrics"]["targets"]) == {"app", "loadgen"}
    assert summary["hypothesis"]["machineVerdict"] == "validated"
    assert summary["hypothesis"]["successCriteria"][0]["actualPerTarget"] == {"app": 130.0, "loadgen": 110.0}
    assert set(summary["costEstimate"]["perTarget"]) == {"app", "loadgen"}
    assert summary["analysis"]["glossary"][0]["term"] == "p99"
    assert repo.pulls[pr.pr_number].merged and pr.branch not in repo.refs
    published = repo.files["main"][f"site/data/{exp.name}.json"]
    assert '"glossary"' in published  # the analysis reached the PR before it was merged
    assert "**Verdict:** validated" in repo.pulls[pr.pr_number].body

    page_file = tmp_path / "report.html"
    page_file.write_bytes(results.store.get(report_key(exp)))
    page = render(page_file)
    assert page.console == [] and not re.search(r"<html[^>]*data-report-errors=", page.dom)
    assert 'data-charts-rendered="2"' in page.dom
