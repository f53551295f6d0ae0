"""Write the whole site into a folder: index, one page per run, series pages, comparison and its data.

A run's page is the experiment report itself (activities/results/html_report.py) with links back into the site, so
there is one way of showing a run. The site is written next to the target folder and swapped in with
renames, so a server never hands out a half-written site.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.results.html_report import render_report
from labctl.command import LabctlError
from labctl.site.compare import DATA_FILE, compare_page, run_data
from labctl.site.layout import slug
from labctl.site.pages import index_page, series_index_page, series_page, series_title
from labctl.site.runs import Run, SummarySource

SITE_MARKER = ".labctl-site"
"""Present in every folder this module wrote: the only folders it will ever replace."""


@dataclass(frozen=True)
class BuiltSite:
    root: Path
    runs: int
    series: int
    seconds: float

    @property
    def index(self) -> Path:
        return self.root / "index.html"


def build_site(source: SummarySource, out: Path, listing: dict[str, str] | None = None) -> BuiltSite:
    """Read every summary (those of ``listing`` when given) and write the site into ``out``."""
    began = time.monotonic()
    runs = source.load(source.listing() if listing is None else listing)
    series_names = source.series_names()
    by_series = write_site(runs, series_names, out)
    return BuiltSite(out, len(runs), len(by_series), time.monotonic() - began)


def write_site(runs: list[Run], series_names: dict[str, dict[str, Any]], out: Path) -> dict[str, list[Run]]:
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server running as another user
    try:
        by_series = _write(runs, series_names, staging)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return by_series


def _write(runs: list[Run], series_names: dict[str, dict[str, Any]], root: Path) -> dict[str, list[Run]]:
    (root / SITE_MARKER).write_text("written by `labctl site build`; replaced on every build\n")
    (root / "runs").mkdir()
    (root / "series").mkdir()
    by_series: dict[str, list[Run]] = {}
    for run in runs:
        if run.series:
            by_series.setdefault(run.series, []).append(run)
    (root / "index.html").write_text(index_page(runs, series_names))
    (root / "compare.html").write_text(compare_page())
    (root / DATA_FILE).write_text(run_data(runs))
    for run in runs:
        (root / "runs" / f"{run.key}.html").write_text(render_report(run.summary, _run_links(run, series_names)))
    (root / "series" / "index.html").write_text(series_index_page(by_series, series_names))
    for series, members in by_series.items():
        (root / "series" / f"{slug(series)}.html").write_text(series_page(series, members, series_names))
    return by_series


def _run_links(run: Run, series_names: dict[str, dict[str, Any]]) -> dict[str, str]:
    links = {"All runs (results site)": "../index.html"}
    if run.series:
        links[f"Series: {series_title(run.series, series_names)}"] = f"../series/{slug(run.series)}.html"
    if len(run.targets) > 1:
        links["Compare its targets"] = f"../compare.html?run={run.key}"
    if run.summary.get("reportURL"):
        links["This report in the results store"] = str(run.summary["reportURL"])
    return links


def _check_replaceable(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / SITE_MARKER).exists())):
        raise LabctlError(f"{out} exists and is not a site built by labctl: choose another --out")


def _swap(staging: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
