"""COLLECT_METRICS and STORE_RESULTS: metric snapshot to S3, then summary.json and the report.

Activities are ``async``: PromQL goes through ``httpx.AsyncClient`` on the event loop; blocking boto3 and
PyGithub calls run in ``asyncio.to_thread`` while heartbeating, so other activities keep running and the
worker needs no thread-pool executor for them. Large data (series, summary) stays in S3; the workflow
gets keys and the few numbers it decides on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from activities.errors import ReviewActionFailed
from activities.heartbeating import heartbeating
from activities.publish import github
from activities.publish.contracts import (
    CLOSE_RESULTS_PR,
    MERGE_RESULTS_PR,
    PUBLISH_RESULTS,
    PublishedResults,
    PublishResultsInput,
    ResultsPullRequest,
)
from activities.results.code_snippets import fetch_snippets
from activities.results.contracts import (
    COLLECT_METRICS,
    STORE_RESULTS,
    CollectMetricsInput,
    MetricsCollection,
    StoredResults,
    StoreResultsInput,
)
from activities.results.html_report import render_report
from activities.results.metrics_collection import KubeconfigSource, MetricsCollector
from activities.results.metrics_snapshot import MetricsSnapshot
from activities.results.s3_store import ObjectMissing, ResultsStore
from activities.results.summary_json import build_summary
from activities.settings import ResultsSettings
from api import names

REPORT_NAME = "report.html"


def report_key(identity: names.ExperimentIdentity) -> str:
    return f"{names.results_prefix(identity)}{REPORT_NAME}"


def summary_identity(summary: dict[str, Any]) -> names.Identity:
    """Which Experiment object a summary.json describes (its keys in S3 follow from that)."""
    return names.Identity(namespace=summary["namespace"], name=summary["name"], uid=summary["uid"])


def public_url(settings: ResultsSettings, key: str) -> str:
    """HTTP address of an object (the results bucket allows anonymous reads, as the original's analyzer needed)."""
    base = (settings.results_public_url or settings.s3_url).rstrip("/")
    return f"{base}/{settings.s3_bucket}/{key}"


def temporal_history_url(settings: ResultsSettings, workflow_id: str, run_id: str) -> str | None:
    if not settings.temporal_ui_url:
        return None
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}/{run_id}/history"


def report_links(settings: ResultsSettings, summary: dict[str, Any]) -> dict[str, str]:
    identity = summary_identity(summary)
    links = {
        "summary.json": public_url(settings, names.summary_key(identity)),
        "metrics-snapshot.json": public_url(settings, names.metrics_snapshot_key(identity)),
    }
    temporal = summary.get("temporal") or {}
    history = temporal.get("historyURL")
    if history:
        links["Temporal history"] = history
    if summary.get("publishPRURL"):
        links["Results pull request"] = summary["publishPRURL"]
    return links


def write_summary_and_report(store: ResultsStore, settings: ResultsSettings, summary: dict[str, Any]) -> None:
    """Report first: summary.json names it, so a reader never follows a link to a missing file."""
    html = render_report(summary, report_links(settings, summary))
    identity = summary_identity(summary)
    store.put(report_key(identity), html.encode(), "text/html; charset=utf-8")
    store.put_json(names.summary_key(identity), summary)


class ResultsActivities:
    """The results-pipeline activities, sharing settings, an S3 client and the metrics collector."""

    def __init__(
        self, settings: ResultsSettings, kubeconfigs: KubeconfigSource | None = None, store: ResultsStore | None = None
    ) -> None:
        self.settings = settings
        self._kubeconfigs = kubeconfigs
        self._store = store

    @property
    def store(self) -> ResultsStore:
        if self._store is None:  # lazily: building the worker must not need S3
            self._store = ResultsStore.from_settings(self.settings)
        return self._store

    @activity.defn(name=COLLECT_METRICS)
    async def collect_metrics(self, inp: CollectMetricsInput) -> MetricsCollection:
        exp = inp.experiment
        snapshot = await MetricsCollector(self.settings, self._kubeconfigs).collect(
            experiment=exp.name,
            namespace=exp.namespace,
            workload_namespace=names.workload_namespace(exp),
            spec=inp.spec,
            cluster_names=inp.cluster_names,
            iteration=inp.iteration,
            created=exp.creation_timestamp,
            now=datetime.now(UTC),
        )
        if snapshot is None:
            return MetricsCollection()
        key = names.metrics_snapshot_key(exp)
        await heartbeating(asyncio.to_thread(self.store.put_json, key, snapshot.to_json_dict()), f"storing {key}")
        missing = sorted(name for name, q in snapshot.queries.items() if not q.has_data)
        return MetricsCollection(
            snapshot_key=key,
            source=snapshot.source,
            total_metrics=len(snapshot.queries),
            metrics_with_data=len(snapshot.queries) - len(missing),
            missing_metrics=missing,
            values=snapshot.representative_values(),
        )

    @activity.defn(name=STORE_RESULTS)
    async def store_results(self, inp: StoreResultsInput) -> StoredResults:
        info = activity.info()
        workflow_id, run_id = info.workflow_id or "", info.workflow_run_id or ""
        exp = inp.experiment
        snapshot = await heartbeating(asyncio.to_thread(self._read_snapshot, inp.snapshot_key), "reading the snapshot")
        summary = build_summary(
            experiment=exp,
            spec=inp.spec,
            status=inp.status,
            snapshot=snapshot,
            criteria=inp.criteria,
            workflow_id=workflow_id,
            workflow_run_id=run_id,
            now=datetime.now(UTC),
        )
        history = temporal_history_url(self.settings, workflow_id, run_id)
        if history or (inp.status.temporal and inp.status.temporal.ui_url):
            summary["temporal"]["historyURL"] = history or (inp.status.temporal and inp.status.temporal.ui_url)
        if inp.spec.code_snippets:
            fetching = asyncio.to_thread(fetch_snippets, self.settings, inp.spec.code_snippets)
            summary["codeSnippets"] = await heartbeating(fetching, "fetching code snippets")
        summary["reportURL"] = public_url(self.settings, report_key(exp))
        writing = asyncio.to_thread(write_summary_and_report, self.store, self.settings, summary)
        await heartbeating(writing, "storing summary.json and the report")
        return StoredResults(
            results_url=names.results_url(exp, self.settings.s3_bucket), summary_key=names.summary_key(exp)
        )

    def _read_snapshot(self, key: str | None) -> MetricsSnapshot | None:
        if not key:
            return None
        try:
            return MetricsSnapshot.model_validate(self.store.get_json(key))
        except ObjectMissing:
            return None

    @activity.defn(name=PUBLISH_RESULTS)
    async def publish_results(self, inp: PublishResultsInput) -> PublishedResults:
        """Branch + data file + PR; safe to repeat (see activities/publish/github.py)."""
        summary = await heartbeating(asyncio.to_thread(self.store.get_json, inp.summary_key), "reading summary.json")
        publishing = asyncio.to_thread(github.publish, self.settings, summary, inp.title)
        return await heartbeating(publishing, "publishing the results pull request")

    @activity.defn(name=MERGE_RESULTS_PR)
    async def merge_results_pr(self, inp: ResultsPullRequest) -> None:
        self._require_github("merge", inp.pr_number)
        merging = asyncio.to_thread(github.merge, self.settings, inp.pr_number, inp.branch)
        await heartbeating(merging, f"merging PR #{inp.pr_number}")

    @activity.defn(name=CLOSE_RESULTS_PR)
    async def close_results_pr(self, inp: ResultsPullRequest) -> None:
        self._require_github("close", inp.pr_number)
        closing = asyncio.to_thread(github.close, self.settings, inp.pr_number, inp.branch)
        await heartbeating(closing, f"closing PR #{inp.pr_number}")

    def _require_github(self, action: str, pr_number: int) -> None:
        if not self.settings.github_enabled:
            raise ReviewActionFailed(f"cannot {action} PR #{pr_number}: GITHUB_TOKEN is not set on the worker")
