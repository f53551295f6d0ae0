"""``labctl site build|serve`` without a lab: from a ``site/data`` folder and from a real S3 bucket.

Summaries here are in the shapes the site meets in the wild: the original's PR files (no statistics,
no target labels, ``_series.json`` beside them), and today's (per-target statistics, analysis).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx

from activities.publish.github import results_path
from activities.settings import ResultsSettings
from labctl.seaweedfs import S3Endpoint
from labctl.site.build import build_site
from labctl.site.runs import BucketSummaries, FolderSummaries, run_key
from labctl.site.serve import serve_site
from labctl.supervisor import free_port
from tests.fixtures.eventually import eventually
from tests.results.browser import render
from tests.site.pages import comparison_cells
from tests.site.summaries import summary, write


def original_summary(name: str, created: str, cpu: float) -> dict[str, Any]:
    """As the original operator wrote ``site/data/<exp>.json``: range query data without target labels."""
    return {
        "name": name,
        "namespace": "experiments",
        "description": "",
        "createdAt": created,
        "phase": "Complete",
        "series": "modern-database-survey",
        "targets": [{"name": "app", "clusterType": "gke"}],
        "metrics": {
            "queries": {
                "cluster_cpu": {
                    "query": "sum(rate(x[1m]))",
                    "type": "range",
                    "unit": "cores",
                    "data": [{"timestamp": created, "value": cpu}, {"timestamp": created, "value": cpu + 0.2}],
                }
            }
        },
    }


def test_site_builds_from_a_site_data_folder_of_the_original(labctl: Any, tmp_path: Path) -> None:
    data = tmp_path / "site" / "data"
    for name, created, cpu in (
        ("db-fvm-aaaaa", "2026-02-18T17:20:17Z", 0.3),
        ("db-fvm-bbbbb", "2026-02-19T17:20:17Z", 0.5),
    ):
        path = tmp_path / results_path(ResultsSettings(), name)  # where the results PR puts it
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(original_summary(name, created, cpu), indent=2, ensure_ascii=False))
    series = {"series": [{"id": "modern-database-survey", "name": "Modern Database Internals", "description": "DBs"}]}
    (data / "_series.json").write_text(json.dumps(series))
    (data / "_categories.json").write_text(json.dumps({"categories": []}))
    out = tmp_path / "out"

    result = labctl("site", "build", "--from-dir", str(data), "--out", str(out))

    assert result.code == 0, result.err
    assert "2 runs, 1 series" in result.out
    index = (out / "index.html").read_text()
    assert "db-fvm-aaaaa" in index and "db-fvm-bbbbb" in index and "Modern Database Internals" in index
    series_page = render(out / "series" / "modern-database-survey.html")
    assert series_page.console == [] and series_page.requests == []
    assert series_page.dom.count('class="point none"') == 2  # no verdict: marked as such
    assert "0.4" in series_page.dom and "0.6" in series_page.dom  # the mean of each run's range query


def test_comparison_of_one_run_compares_its_targets(tmp_path: Path) -> None:
    run = summary("tsdb-x", "2026-03-01T10:00:00Z", {"memory_total": {"prometheus": 400.0, "victoria": 100.0}})
    write(tmp_path / "data", "tsdb-x", run)
    out = tmp_path / "out"
    build_site(FolderSummaries(tmp_path / "data"), out)
    page = render(out / "compare.html", query=f"run={run_key(run)}")

    assert page.console == [] and page.requests == []
    assert 'data-columns="2"' in page.dom
    cells = comparison_cells(page.dom)["memory_total"]
    assert (cells[0]["value"], cells[1]["value"]) == (400.0, 100.0)
    assert (cells[1]["diff"], cells[1]["ratio"]) == (-300.0, 0.25)

    index = (out / "index.html").read_text()
    assert f'value="{run_key(run)}:victoria"' in index, "single targets can be picked on the index"
    picked = render(out / "compare.html", query=f"run={run_key(run)}:victoria&run={run_key(run)}:prometheus")
    swapped = comparison_cells(picked.dom)["memory_total"]
    assert (swapped[1]["diff"], swapped[1]["ratio"]) == (300.0, 4.0)


def test_the_same_run_found_twice_is_shown_once_with_its_analysis(tmp_path: Path) -> None:
    plain = summary("gw-1", "2026-03-01T10:00:00Z", {"cpu_total": {"app": 1.0}})
    analysed = plain | {"analysis": {"abstract": "Envoy used less CPU.", "aiGenerated": False}}
    write(tmp_path / "data" / "old-prefix", "gw-1", analysed)
    write(tmp_path / "data" / "new-prefix", "gw-1", plain)
    renamed = summary("gw-1", "2026-03-02T10:00:00Z", {"cpu_total": {"app": 2.0}}, uid="another-object")
    write(tmp_path / "data" / "new-prefix", "gw-1-again", renamed)

    source = FolderSummaries(tmp_path / "data")
    runs = source.load(source.listing())

    assert len(runs) == 2, "one object's run twice, and a re-created namesake (new uid)"
    assert {r.key for r in runs} == {run_key(plain), run_key(renamed)}
    assert next(r for r in runs if r.key == run_key(plain)).summary.get("analysis")


def test_runs_are_discovered_at_any_depth_of_the_bucket(s3_server: S3Endpoint, s3_bucket: str) -> None:
    client = s3_server.client()
    a = summary("a", "2026-03-01T10:00:00Z", {"cpu_total": {"app": 1.0}})
    b = summary("b", "2026-03-02T10:00:00Z", {"cpu_total": {"app": 2.0}})
    client.put_object(Bucket=s3_bucket, Key="a/summary.json", Body=json.dumps(a).encode())
    client.put_object(Bucket=s3_bucket, Key="experiments/b/3f2a9c/summary.json", Body=json.dumps(b).encode())
    client.put_object(Bucket=s3_bucket, Key="a/metrics-snapshot.json", Body=b"{}")
    client.put_object(Bucket=s3_bucket, Key="a/report.html", Body=b"<html></html>")

    source = BucketSummaries(s3_server, s3_bucket)
    runs = source.load(source.listing())

    assert sorted(r.name for r in runs) == ["a", "b"]
    assert BucketSummaries(s3_server, "no-such-bucket-yet").listing() == {}


def test_serve_rebuilds_the_site_when_a_summary_lands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write(data, "first", summary("first", "2026-03-01T10:00:00Z", {"cpu_total": {"app": 1.0}}))
    port, stop = free_port(), threading.Event()
    server = threading.Thread(
        target=serve_site, args=(FolderSummaries(data), tmp_path / "site", "127.0.0.1", port, 0.2, stop), daemon=True
    )
    server.start()
    try:
        index = _wait_for(f"http://127.0.0.1:{port}/index.html", "first")
        assert "second" not in index
        write(data, "second", summary("second", "2026-03-02T10:00:00Z", {"cpu_total": {"app": 2.0}}))
        _wait_for(f"http://127.0.0.1:{port}/index.html", "Title of second")
    finally:
        stop.set()
        server.join(timeout=30)


def _wait_for(url: str, text: str) -> str:
    return eventually(
        lambda: httpx.get(url, timeout=5).text,
        what=f"{url} shows {text!r}",
        until=lambda body: text in body,
        interval=0.1,
        tolerate=(httpx.HTTPError,),
    )


def test_build_never_replaces_a_folder_it_did_not_write(labctl: Any, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")

    result = labctl("site", "build", "--from-dir", str(tmp_path / "data"), "--out", str(precious))

    assert result.code == 2
    assert "is not a site built by labctl" in result.err
    assert (precious / "notes.txt").read_text() == "keep me"


def test_index_filters_and_sorts_as_its_url_says(tmp_path: Path) -> None:
    runs = []
    for i, (verdict, cost, tag) in enumerate(
        [("invalidated", 0.3, "a"), ("validated", 0.9, "a"), ("invalidated", 0.7, "b"), ("invalidated", 0.1, "a")]
    ):
        run = summary(f"run-{i}", f"2026-03-0{i + 1}T10:00:00Z", {"cpu_total": {"app": float(i)}})
        run["hypothesis"]["machineVerdict"] = verdict
        run["costEstimate"]["totalUSD"] = cost
        run["tags"] = [tag]
        write(tmp_path / "data", run["name"], run)
        runs.append(run)
    build_site(FolderSummaries(tmp_path / "data"), tmp_path / "out")

    page = render(tmp_path / "out" / "index.html", query="verdict=invalidated&tags=a&sort=cost&order=desc")

    assert page.console == [] and page.requests == []
    rows = re.finditer(r'<tr ([^>]*)data-key="([^"]+)"([^>]*)>', page.dom)
    shown = [row[2] for row in rows if 'hidden=""' not in row[1] + row[3]]
    by_key = {run_key(r): r["name"] for r in runs}
    assert [by_key[k] for k in shown] == ["run-0", "run-3"], "invalidated, tagged a, most expensive first"
    assert '<span id="shown">2</span>' in page.dom
