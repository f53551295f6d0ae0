"""Write the site into a folder: index, one page per run, series pages, comparison and its data.

A run's page is the experiment report itself (activities/results/html_report.py) with links back into the site, so
there is one way of showing a run. Every page is listed with the inputs it is rendered from
(``site_pages``); a build renders only the pages whose inputs differ from what the folder was last written
from, so a full build and a rebuild after a summary lands are the same code, and a rebuild costs what changed
(the new run's page, its series page, the index and the comparison data) rather than the whole site.

The first build of a folder is written next to it and swapped in with renames; later builds of the same
``Site`` replace single files by rename, pages others link to first and removed pages last, so a server
never hands out a half-written page or a link to a page not yet written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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
MARKER_TEXT = "written by `labctl site build`; replaced on every build\n"


@dataclass(frozen=True)
class BuiltSite:
    root: Path
    runs: int
    series: int
    seconds: float
    written: int  # files rendered and written by this build
    removed: int  # files of runs or series no longer in the store

    @property
    def index(self) -> Path:
        return self.root / "index.html"


@dataclass(frozen=True)
class Page:
    inputs: tuple[object, ...]
    """Everything the page is rendered from: equal inputs give equal bytes, so the page need not be rendered."""
    render: Callable[[], str]


def build_site(source: SummarySource, out: Path) -> BuiltSite:
    """Read every summary and write the whole site into ``out``."""
    return Site(out).build(source)


class Site:
    """A site folder and the inputs each of its files was last written from (by this object)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._written: dict[str, tuple[object, ...]] | None = None  # None: not written by this object yet

    def build(self, source: SummarySource, listing: dict[str, str] | None = None) -> BuiltSite:
        """Bring the folder up to the summaries of ``listing`` (the source's current listing by default)."""
        began = time.monotonic()
        runs = source.load(source.listing() if listing is None else listing)
        pages = site_pages(runs, source.series_names())
        if self._written is None:
            written, removed = self._write_whole(pages), 0
        else:
            written, removed = _write_changed(self.out, pages, self._written)
        series = len({run.series for run in runs if run.series})
        return BuiltSite(self.out, len(runs), series, time.monotonic() - began, written, removed)

    def _write_whole(self, pages: dict[str, Page]) -> int:
        _check_replaceable(self.out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.out.name}-", dir=self.out.parent))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server running as another user
        written: dict[str, tuple[object, ...]] = {}
        try:
            count, _ = _write_changed(staging, pages, written)
            _swap(staging, self.out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._written = written
        return count


def site_pages(runs: list[Run], series_names: dict[str, dict[str, Any]]) -> dict[str, Page]:
    """Every file of the site (path relative to its root) with what it is rendered from."""
    by_series: dict[str, list[Run]] = {}
    for run in runs:
        if run.series:
            by_series.setdefault(run.series, []).append(run)
    summaries = tuple(run.summary for run in runs)
    pages = {
        SITE_MARKER: Page((), lambda: MARKER_TEXT),
        "index.html": Page((summaries, series_names), partial(index_page, runs, series_names)),
        "compare.html": Page((), compare_page),
        DATA_FILE: Page((summaries,), partial(run_data, runs)),
        "series/index.html": Page(
            (tuple((series, len(members)) for series, members in by_series.items()), series_names),
            partial(series_index_page, by_series, series_names),
        ),
    }
    for run in runs:
        links = _run_links(run, series_names)
        pages[f"runs/{run.key}.html"] = Page((run.summary, links), partial(render_report, run.summary, links))
    for series, members in by_series.items():
        pages[f"series/{slug(series)}.html"] = Page(
            (series, tuple(run.summary for run in members), series_names.get(series)),
            partial(series_page, series, members, series_names),
        )
    return pages


def _write_changed(root: Path, pages: dict[str, Page], written: dict[str, tuple[object, ...]]) -> tuple[int, int]:
    """Render and write the pages whose inputs differ from ``written``, remove the files no page is, and keep
    ``written`` true to the folder even when a write fails half-way. Returns (written, removed)."""
    count = 0
    for name in sorted(pages, key=_linked_first):
        page = pages[name]
        if written.get(name) != page.inputs:
            _replace(root / name, page.render())
            written[name] = page.inputs
            count += 1
    gone = [name for name in written if name not in pages]
    for name in gone:
        (root / name).unlink(missing_ok=True)
        del written[name]
    return count, len(gone)


def _linked_first(name: str) -> tuple[int, str]:
    """Run pages, then series pages, then the pages linking to them (the index pages and the comparison data)."""
    return (0 if name.startswith("runs/") else 1 if not name.endswith("index.html") and "/" in name else 2), name


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(exist_ok=True)
    partial_file = path.with_name(f".{path.name}.partial")
    partial_file.write_text(text)
    os.replace(partial_file, path)


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
