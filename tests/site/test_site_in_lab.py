"""The results site over real runs: catalog scenarios run in an embedded lab, then the site is checked
in headless Chromium.

Two runs of tsdb-comparison and one of tracing-comparison (all three in the ``observability-backends``
series) run concurrently in one lab in fast mode. The lab's own site (started empty with the lab) must
pick them up; ``labctl site build`` against the lab's bucket must give pages that load offline with no
console error and no request leaving the machine, series charts with one linked point per run and
target, and a comparison whose differences are those of the two summaries.

Set ``SITE_SCREENSHOTS=DIR`` to keep the screenshots (docs/site/ holds the checked-in ones).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from labctl.lab.command import print_endpoints
from labctl.lab.state import LabState
from labctl.seaweedfs import S3Endpoint
from labctl.site.runs import run_key
from tests.fixtures.eventually import eventually
from tests.fixtures.lab import REPO, lab_env, labctl, module_lab
from tests.results.browser import render
from tests.site.pages import chart_points, comparison_cells, representative

pytestmark = pytest.mark.slow
TIME_SCALE = 0.03  # as the catalog test: observation windows past the 30 s minimum, so metrics have data
SERIES = "observability-backends"
SCENARIOS = ("tsdb-comparison", "tsdb-comparison", "tracing-comparison")
RUN_TIMEOUT_SECONDS = 480


lab = module_lab(TIME_SCALE)


@pytest.fixture(scope="module")
def summaries(lab: LabState) -> dict[str, dict[str, Any]]:
    """The finished runs' summary.json, by experiment name, read straight from the lab's bucket."""
    env = lab_env(lab)
    argv = [sys.executable, "-m", "labctl", "run", "--wait", "--json", "--timeout", str(RUN_TIMEOUT_SECONDS)]
    procs = [
        subprocess.Popen(
            [*argv, f"experiments/{s}/experiment.yaml"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for s in SCENARIOS
    ]
    names = []
    for proc in procs:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_SECONDS + 60)
        assert proc.returncode == 0, f"labctl run exited {proc.returncode}: {err[-2000:]}"
        names.append(json.loads(out)["metadata"]["name"])
    s3 = S3Endpoint(env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]).client()
    found = {}
    for obj in s3.list_objects_v2(Bucket="experiment-results").get("Contents", []):
        if obj["Key"].endswith("summary.json"):
            summary = json.loads(s3.get_object(Bucket="experiment-results", Key=obj["Key"])["Body"].read())
            found[summary["name"]] = summary
    assert set(names) <= set(found), f"summaries missing for {set(names) - set(found)}"
    return {name: found[name] for name in names}


@pytest.fixture(scope="module")
def site(lab: LabState, summaries: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "results-site"
    built = labctl("site", "build", "--out", str(out), env=lab_env(lab))
    assert built.returncode == 0, built.stderr
    assert f"{len(summaries)} runs, 1 series" in built.stdout
    return out


def _tsdb_runs(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    runs = [s for s in summaries.values() if s["name"].startswith("tsdb-comparison")]
    return sorted(runs, key=lambda s: s["createdAt"])


def test_lab_prints_the_site_url_and_rebuilds_the_site_when_summaries_land(
    lab: LabState, summaries: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    print_endpoints(lab)
    url = lab.endpoints()["Results site"]
    assert f"Results site     {url}" in capsys.readouterr().out
    eventually(  # the site checks the bucket every 2 s
        lambda: httpx.get(f"{url}index.html", timeout=5).text,
        120,
        "the lab's site rebuilt with the new runs",
        until=lambda index: all(name in index for name in summaries),
        interval=1,
        tolerate=(httpx.HTTPError,),
    )
    status = labctl("lab", "--lab-dir", str(lab.root), "status")
    assert "results site       ok" in status.stdout, status.stdout


def test_every_page_loads_offline_without_console_errors(site: Path, summaries: dict[str, dict[str, Any]]) -> None:
    first, second = (run_key(s) for s in _tsdb_runs(summaries))
    pages: list[tuple[Path, str]] = [
        (site / "index.html", ""),
        (site / "compare.html", f"run={first}&run={second}"),
        (site / "series" / "index.html", ""),
        (site / "series" / f"{SERIES}.html", ""),
        *((p, "") for p in sorted((site / "runs").glob("*.html"))),
    ]
    assert len(pages) == 4 + len(summaries)
    for path, query in pages:
        page = render(path, query=query)
        where = f"{path.relative_to(site)}?{query}"
        assert "<main" in page.dom, f"{where} did not render"
        assert page.console == [], f"{where}: {page.console}"
        assert page.requests == [], f"{where} asked the network for {page.requests}"
        assert 'data-report-errors="' not in page.dom, where
    index = (site / "index.html").read_text()
    for summary in summaries.values():
        key = run_key(summary)
        assert f'href="runs/{key}.html"' in index
        assert 'href="../index.html"' in (site / "runs" / f"{key}.html").read_text()


def test_series_chart_has_a_linked_verdict_point_per_run_and_target(
    site: Path, summaries: dict[str, dict[str, Any]]
) -> None:
    page = render(site / "series" / f"{SERIES}.html")
    charts = chart_points(page.dom)
    expected: dict[str, int] = {}
    for summary in summaries.values():
        for metric, targets in (summary.get("metricStatistics") or {}).items():
            expected[metric] = expected.get(metric, 0) + len(targets)
    assert expected, "the scenarios collected no metrics"
    assert {m: len(points) for m, points in charts.items()} == expected
    assert page.dom.count('data-charts-rendered="') == 1
    assert f'data-charts-rendered="{len(expected)}"' in page.dom, "a chart was not laid out"
    verdicts = {run_key(s): (s.get("hypothesis") or {}).get("machineVerdict") or "none" for s in summaries.values()}
    for points in charts.values():
        for point in points:
            key = point.href.removeprefix("../runs/").removesuffix(".html")
            assert (site / "runs" / f"{key}.html").is_file(), point.href
            assert point.verdict == verdicts[key]


def test_comparison_of_two_runs_shows_their_differences(site: Path, summaries: dict[str, dict[str, Any]]) -> None:
    first, second = _tsdb_runs(summaries)
    page = render(site / "compare.html", query=f"run={run_key(first)}&run={run_key(second)}")
    assert 'data-columns="2"' in page.dom  # tsdb-comparison has one target with data
    cells = comparison_cells(page.dom)
    compared = 0
    for metric, targets in first["metricStatistics"].items():
        for target, stats in targets.items():
            a = representative(stats)
            b = representative(second["metricStatistics"][metric][target])
            row = cells[metric]
            assert row[0]["value"] == pytest.approx(a, rel=1e-12)
            assert row[1]["value"] == pytest.approx(b, rel=1e-12)
            assert row[1]["base"] == 0
            assert row[1]["diff"] == pytest.approx(b - a, rel=1e-9, abs=1e-12)
            if a:
                assert row[1]["ratio"] == pytest.approx(b / a, rel=1e-9)
            compared += 1
    assert compared >= 5
    cost_a, cost_b = first["costEstimate"]["totalUSD"], second["costEstimate"]["totalUSD"]
    assert cells["cost"][1]["diff"] == pytest.approx(cost_b - cost_a, rel=1e-9, abs=1e-12)
    assert first["hypothesis"]["claim"] in page.dom


def test_screenshots_of_index_series_and_comparison(site: Path, summaries: dict[str, dict[str, Any]]) -> None:
    first, second = _tsdb_runs(summaries)
    shots = {
        "index.png": (site / "index.html", "", "1200,760"),
        "series.png": (site / "series" / f"{SERIES}.html", "", "1200,1500"),
        "comparison.png": (site / "compare.html", f"run={run_key(first)}&run={run_key(second)}", "1200,1100"),
    }
    keep = os.environ.get("SITE_SCREENSHOTS")
    for name, (path, query, size) in shots.items():
        target = site.parent / name
        render(path, query=query, screenshot=target, window_size=size)
        assert target.stat().st_size > 10_000, f"{name} looks empty"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(target, Path(keep) / name)
