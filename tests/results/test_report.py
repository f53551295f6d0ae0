"""The HTML report: self-contained, renders in Chromium without console errors, shows every metric."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.results import judgement
from activities.results.html_report import render_report
from activities.results.metrics_snapshot import DataPoint, MetricsSnapshot, QueryResult, TargetMetrics, TimeWindow
from activities.results.summary_json import build_summary
from api.experiment import ExperimentPhase, ExperimentStatus, MetricType, PhaseTransition
from tests.results.browser import render
from tests.results.conftest import comparison_spec, experiment_ref


def _series(target: str, pods: list[str], base: float, start: datetime) -> list[DataPoint]:
    return [
        DataPoint(labels={"pod": pod}, timestamp=start + timedelta(minutes=i), value=base + i * 0.01 + j)
        for j, pod in enumerate(pods)
        for i in range(10)
    ]


def sample_summary() -> dict[str, Any]:
    exp = experiment_ref("gw-report", minutes_ago=12)
    start = exp.creation_timestamp
    now = datetime.now(UTC)
    window: dict[str, Any] = {"start": start, "end": now, "duration": "12m", "step_seconds": 60}

    def block(target: str, rps: float, p99: float) -> TargetMetrics:
        return TargetMetrics(
            source=f"target:monitoring/{target}-prom",
            queries={
                "request_rate": QueryResult(
                    query="sum(bench_rps)",
                    type=MetricType.INSTANT,
                    unit="req/s",
                    description="Requests per second",
                    source=f"target:monitoring/{target}-prom",
                    data=[DataPoint(timestamp=now, value=rps)],
                ),
                "latency_p99": QueryResult(
                    query="max by (pod) (bench_p99)",
                    type=MetricType.RANGE,
                    unit="s",
                    source=f"target:monitoring/{target}-prom",
                    data=_series(target, [f"{target}-0", f"{target}-1"], p99, start),
                ),
                "errors_total": QueryResult(
                    query="sum(errors)", type=MetricType.INSTANT, error="HTTP 400: parse error", source="x"
                ),
            },
        )

    snapshot = MetricsSnapshot.merge(
        now,
        TimeWindow(**window),
        targets={"app": block("app", 120, 0.2), "loadgen": block("loadgen", 90, 0.3)},
    )
    spec = comparison_spec()
    verdict = judgement.evaluate(spec.hypothesis, snapshot.representative_values())
    status = ExperimentStatus(
        phase=ExperimentPhase.COMPLETE,
        completed_at=now,
        timeline=[PhaseTransition(phase=ExperimentPhase.RUNNING, time=start)],
    )
    return build_summary(
        experiment=exp,
        spec=spec,
        status=status,
        snapshot=snapshot,
        criteria=verdict.criteria,
        workflow_id="wf",
        workflow_run_id="run",
        now=now,
    )


def test_report_is_self_contained() -> None:
    html = render_report(sample_summary(), {"Temporal history": "http://temporal.local/history"})
    assert not re.search(r"""(src|href)=["']https?://(?!temporal\.local)""", html)  # no CDN, no remote assets
    assert "<link" not in html and "@import" not in html


def test_report_renders_in_chromium_with_a_chart_per_metric(tmp_path: Path) -> None:
    summary = sample_summary()
    page_file = tmp_path / "report.html"
    page_file.write_text(render_report(summary, {"Temporal history": "http://temporal.local/history"}))
    page = render(page_file)
    assert page.dom, "Chromium produced no DOM"
    assert page.console == []
    assert not re.search(r"<html[^>]*data-report-errors=", page.dom)
    metrics = summary["metrics"]["queries"]
    with_data = [name for name, q in metrics.items() if q.get("data")]
    assert f'data-charts-rendered="{len(with_data)}"' in page.dom
    for name in metrics:
        assert f'data-metric="{name}"' in page.dom
    assert 'data-kind="line"' in page.dom and 'data-kind="bar"' in page.dom
    assert "No data: app: HTTP 400" in page.dom  # a failed query is shown with its reason, not hidden
    assert page.dom.count('class="series"') >= 2 + 4  # bars per target + lines per pod and target
    assert "validated" in page.dom and "Cost" in page.dom and "Timeline" in page.dom


def test_report_detects_errors_in_the_page(tmp_path: Path) -> None:
    """The check itself: a broken script shows up both in the DOM marker and the console log."""
    html = render_report(sample_summary()).replace("</main>", "<script>notDefined()</script></main>")
    page_file = tmp_path / "broken.html"
    page_file.write_text(html)
    page = render(page_file)
    assert re.search(r"<html[^>]*data-report-errors=", page.dom) and page.console
