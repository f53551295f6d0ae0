"""COLLECT_METRICS → STORE_RESULTS against real SeaweedFS and Prometheus/VictoriaMetrics: summary.json shape."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime

import pytest
from temporalio.testing import ActivityEnvironment

from activities.errors import ResultsStoreUnavailable
from activities.results import judgement
from activities.results.contracts import CollectMetricsInput, StoreResultsInput
from activities.results.pipeline import ResultsActivities, report_key
from activities.results.s3_store import ResultsStore
from activities.settings import ResultsSettings
from api import names
from api.experiment import ExperimentPhase, ExperimentStatus, PhaseTransition, TargetStatus, WorkflowStatus
from labctl.seaweedfs import SeaweedFS
from tests.fakes.kube_proxy import FakeKubeApi, FakeService, serve
from tests.fixtures.metrics import Prometheus, VictoriaMetrics
from tests.results.conftest import comparison_spec, experiment_ref
from tests.results.test_metrics import _seed_recent

on_session_loop = pytest.mark.asyncio(loop_scope="session")


def activity_env() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="experiment-experiments-gw-uid", workflow_run_id="run-1")
    return env


def finished_status(created: datetime) -> ExperimentStatus:
    now = datetime.now(UTC)
    return ExperimentStatus(
        phase=ExperimentPhase.COMPLETE,
        completed_at=now,
        targets=[TargetStatus(name="app", cluster_name="gw-app"), TargetStatus(name="loadgen", cluster_name="gw-lg")],
        workflow_status=WorkflowStatus(name="gw-validation", phase="Succeeded", started_at=created, finished_at=now),
        timeline=[
            PhaseTransition(phase=ExperimentPhase.PENDING, time=created),
            PhaseTransition(phase=ExperimentPhase.RUNNING, time=created),
            PhaseTransition(phase=ExperimentPhase.COMPLETE, time=now),
        ],
    )


@on_session_loop
async def test_two_target_comparison_summary_carries_both_targets_verdict_and_cost(
    s3_settings: ResultsSettings, prometheus: Prometheus, victoria_metrics: VictoriaMetrics
) -> None:
    exp = experiment_ref(f"gw-{int(time.time() * 1000) % 10**8}")
    _seed_recent(prometheus, exp.name, rps=120.0, p99=0.2, pod="gw-0", namespace=names.workload_namespace(exp))
    _seed_recent(victoria_metrics, exp.name, rps=90.0, p99=0.3, pod="lg-0", namespace=names.workload_namespace(exp))
    app_api = FakeKubeApi(services=[FakeService("monitoring", "prometheus-server", [9090], upstream=prometheus.url)])
    lg_api = FakeKubeApi(services=[FakeService("observability", "vmsingle", [8428], upstream=victoria_metrics.url)])
    spec = comparison_spec()
    with serve(app_api) as app_server, serve(lg_api) as lg_server:
        kubeconfigs = {"app": app_api.kubeconfig(app_server.url), "loadgen": lg_api.kubeconfig(lg_server.url)}

        async def kubeconfig(target: str, cluster_type: str, cluster: str) -> str | None:
            return kubeconfigs[target]

        acts = ResultsActivities(s3_settings, kubeconfig)
        collection = await activity_env().run(
            acts.collect_metrics,
            CollectMetricsInput(experiment=exp, spec=spec, cluster_names={"app": "a", "loadgen": "l"}),
        )
    assert collection.snapshot_key == names.metrics_snapshot_key(exp)
    assert (collection.total_metrics, collection.metrics_with_data, collection.missing_metrics) == (2, 2, [])
    verdict = judgement.evaluate(spec.hypothesis, collection.values)  # what the workflow does

    stored = await activity_env().run(
        acts.store_results,
        StoreResultsInput(
            experiment=exp,
            spec=spec,
            status=finished_status(exp.creation_timestamp),
            snapshot_key=collection.snapshot_key,
            criteria=verdict.criteria,
        ),
    )
    assert stored.results_url == f"s3://{s3_settings.s3_bucket}/{exp.namespace}/{exp.name}/{exp.uid}/"
    store = ResultsStore.from_settings(s3_settings)
    summary = store.get_json(stored.summary_key)

    # the original's fields
    for field in ("name", "namespace", "description", "createdAt", "completedAt", "durationSeconds", "phase"):
        assert field in summary
    assert [t["name"] for t in summary["targets"]] == ["app", "loadgen"]
    assert summary["workflow"]["template"] == "gw"
    # both targets' metrics, each with its source
    assert set(summary["metrics"]["targets"]) == {"app", "loadgen"}
    assert summary["metrics"]["targets"]["app"]["source"] == "target:monitoring/prometheus-server"
    assert summary["metrics"]["queries"]["request_rate"]["source"] == (
        "target:monitoring/prometheus-server; target:observability/vmsingle"
    )
    # verdict with actual values, per target too
    block = summary["hypothesis"]
    assert block["machineVerdict"] == "validated"
    rate = block["successCriteria"][0]
    assert rate["actualValue"] == "105.0" and rate["outcome"] == "passed" and rate["value"] == "100"
    assert rate["query"] == f'sum(bench_rps{{experiment="{exp.name}"}})'
    assert rate["actualPerTarget"] == {"app": 120.0, "loadgen": 90.0}
    assert "request_rate: 105 >= 100 passed" in block["verdictMessage"]
    # cost per target and total
    cost = summary["costEstimate"]
    assert set(cost["perTarget"]) == {"app", "loadgen"}
    assert cost["totalUSD"] == pytest.approx(sum(cost["perTarget"].values()))
    assert cost["breakdown"]["app"]["spot"] is True and cost["breakdown"]["loadgen"]["nodeCount"] == 2
    # reproducibility: run id, parameters, Temporal ids; statistics; timeline; the report beside it
    assert summary["uuid"] and summary["parameters"]["metrics"][0]["name"] == "request_rate"
    assert summary["temporal"] == {"workflowId": "experiment-experiments-gw-uid", "runId": "run-1"}
    assert summary["metricStatistics"]["request_rate"]["app"]["mean"] == 120.0
    assert [t["phase"] for t in summary["timeline"]] == ["Pending", "Running", "Complete"]
    assert summary["reportURL"].endswith(f"/{s3_settings.s3_bucket}/{report_key(exp)}")
    html = store.get(report_key(exp)).decode()
    assert 'data-metric="request_rate"' in html and 'data-metric="latency_p99"' in html
    snapshot = store.get_json(names.metrics_snapshot_key(exp))
    assert snapshot["timeRange"]["stepSeconds"] == 60


@on_session_loop
async def test_no_data_is_insufficient_never_a_pass(s3_settings: ResultsSettings) -> None:
    exp = experiment_ref("nodata")
    spec = comparison_spec()
    verdict = judgement.evaluate(spec.hypothesis, {})
    stored = await activity_env().run(
        ResultsActivities(s3_settings).store_results,
        StoreResultsInput(
            experiment=exp, spec=spec, status=finished_status(exp.creation_timestamp), criteria=verdict.criteria
        ),
    )
    summary = ResultsStore.from_settings(s3_settings).get_json(stored.summary_key)
    assert summary["hypothesis"]["machineVerdict"] == "insufficient"
    assert [c["outcome"] for c in summary["hypothesis"]["successCriteria"]] == ["no-data", "no-data"]
    assert "metrics" not in summary


@on_session_loop
async def test_bucket_is_created_when_missing(s3_settings: ResultsSettings) -> None:
    settings = s3_settings.model_copy(update={"s3_bucket": f"{s3_settings.s3_bucket}-new"})
    exp = experiment_ref("newbucket")
    stored = await activity_env().run(
        ResultsActivities(settings).store_results,
        StoreResultsInput(experiment=exp, spec=comparison_spec(), status=finished_status(exp.creation_timestamp)),
    )
    store = ResultsStore.from_settings(settings)
    assert store.get_json(stored.summary_key)["name"] == "newbucket"
    for key in (stored.summary_key, report_key(exp)):
        store.client.delete_object(Bucket=settings.s3_bucket, Key=key)
    store.client.delete_bucket(Bucket=settings.s3_bucket)


@on_session_loop
async def test_a_store_that_stays_down_raises_a_retryable_error_naming_it(
    s3_settings: ResultsSettings, seaweedfs: SeaweedFS
) -> None:
    exp = experiment_ref("down")
    acts = ResultsActivities(s3_settings)
    inp = StoreResultsInput(experiment=exp, spec=comparison_spec(), status=finished_status(exp.creation_timestamp))
    with seaweedfs.down(), pytest.raises(ResultsStoreUnavailable) as failure:
        await activity_env().run(acts.store_results, inp)
    assert "unavailable" in str(failure.value) and s3_settings.s3_url in str(failure.value)
    assert not failure.value.non_retryable  # Temporal retries it until the results deadline
    stored = await activity_env().run(acts.store_results, inp)  # back up: the retry of the workflow succeeds
    assert json.loads(acts.store.get(stored.summary_key))["name"] == "down"
