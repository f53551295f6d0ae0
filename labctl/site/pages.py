"""The index (every run: filter, sort, search, pick runs to compare) and the series pages."""

from __future__ import annotations

from functools import partial
from html import escape
from typing import Any

from labctl.site.charts import SeriesPoint, series_chart, verdict_legend
from labctl.site.layout import money, page, script, slug, verdict_badge
from labctl.site.runs import Run

COLUMNS = (
    ("title", "Title", False),
    ("series", "Series", False),
    ("tags", "Tags", False),
    ("targets", "Targets", False),
    ("verdict", "Verdict", False),
    ("cost", "Cost", True),
    ("date", "Date", False),
)


def index_page(runs: list[Run], series_names: dict[str, dict[str, Any]]) -> str:
    titles = {series: series_title(series, series_names) for series in {run.series for run in runs if run.series}}
    rows = "".join(
        run.part("index-row", titles.get(run.series), partial(_index_row, run, titles.get(run.series))) for run in runs
    )
    head = "".join(
        f'<th scope="col"{" class=wide" if key in ("tags", "targets") else ""}><button type="button" '
        f'data-sort="{key}"{" data-numeric" if numeric else ""}>{label}</button></th>'
        for key, label, numeric in COLUMNS
    )
    body = (
        f"<h1>Experiment results</h1><p class='muted'>{len(runs)} runs · "
        f"{len({r.series for r in runs if r.series})} series. Tick runs and press Compare; one run compares its "
        "targets, and the boxes under Targets pick single targets.</p>"
        f"<form class='filters' role='search' onsubmit='return false'>{_filters(runs)}</form>"
        "<form action='compare.html' method='get'><div class='compare-bar'><button type='submit'>Compare selected"
        "</button><span class='muted'><span id='shown'>" + str(len(runs)) + "</span> shown</span></div>"
        f"<div class='table-wrap'><table id='runs' class='runs'><thead><tr><th scope='col' class='pick'>Pick</th>"
        f"{head}</tr></thead><tbody>{rows}</tbody></table></div></form>"
    )
    return page("All runs", body, depth=0, script=script("index.js"))


def _filters(runs: list[Run]) -> str:
    choices = {
        "series": sorted({r.series for r in runs if r.series}),
        "tags": sorted({t for r in runs for t in r.tags}),
        "targets": sorted({t for r in runs for t in r.targets}),
        "verdict": sorted({r.verdict for r in runs}),
    }
    selects = "".join(
        f"<label>{name.capitalize()}<select name='{name}' data-filter='{name}'><option value=''>all</option>"
        + "".join(f"<option>{escape(v)}</option>" for v in values)
        + "</select></label>"
        for name, values in choices.items()
    )
    return (
        "<label>Search<input type='search' id='q' name='q' placeholder='title, name, claim, metric…'></label>"
        f"{selects}<label>From<input type='date' id='from' name='from'></label>"
        "<label>To<input type='date' id='to' name='to'></label>"
        "<label>Max cost ($)<input type='number' id='maxcost' name='maxcost' min='0' step='any'></label>"
    )


def _index_row(run: Run, series: str | None) -> str:
    """The run's row; ``series`` is the title of its series, if it names one."""
    analysis = run.summary.get("analysis") if isinstance(run.summary.get("analysis"), dict) else {}
    text = " ".join(
        [run.title, run.name, run.series, *run.tags, *run.targets, run.verdict, run.claim, run.created]
        + [m.name for m in run.metrics]
        + [str((analysis or {}).get("abstract") or "")]
    ).lower()
    attrs = {
        "data-text": text,
        "data-series": run.series,
        "data-tags": "|".join(run.tags),
        "data-targets": "|".join(run.targets),
        "data-verdict": run.verdict,
        "data-cost": "" if run.cost is None else repr(run.cost),
        "data-date": run.created,
        "data-sort-title": run.title.lower(),
        "data-sort-series": run.series,
        "data-sort-tags": ",".join(run.tags),
        "data-sort-targets": ",".join(run.targets),
        "data-sort-verdict": run.verdict,
        "data-sort-cost": "" if run.cost is None else repr(run.cost),
        "data-sort-date": run.created,
    }
    attr_text = " ".join(f'{k}="{escape(v, quote=True)}"' for k, v in attrs.items())
    series_cell = f'<a href="series/{slug(run.series)}.html">{escape(series)}</a>' if series is not None else "—"
    tags = "".join(f"<span class='tag'>{escape(t)}</span>" for t in run.tags)
    return (
        f'<tr {attr_text} data-key="{run.key}"><td class="pick"><input type="checkbox" name="run" value="{run.key}" '
        f'aria-label="compare {escape(run.title, quote=True)}"></td>'
        f'<td><a href="runs/{run.key}.html">{escape(run.title)}</a><div class="muted">'
        f"{escape(str(run.summary.get('namespace') or ''))}/{escape(run.name)}</div></td><td>{series_cell}</td>"
        f"<td class='wide'>{tags}</td><td class='wide'>{escape(', '.join(run.targets))}{_target_picks(run)}</td>"
        f"<td>{verdict_badge(run.verdict)}</td><td class='num'>{money(run.cost)}</td>"
        f"<td><time datetime='{escape(run.created, quote=True)}'>{escape(run.created[:16].replace('T', ' '))}</time>"
        "</td></tr>"
    )


def _target_picks(run: Run) -> str:
    """One checkbox per target with data, when there are several: targets can be compared across runs too."""
    if len(run.columns) < 2:
        return ""
    return "".join(
        f'<label class="pick target-pick"><input type="checkbox" name="run" value="{run.key}:{escape(t, quote=True)}" '
        f'aria-label="compare {escape(t, quote=True)} of {escape(run.title, quote=True)}"> {escape(t)}</label>'
        for t in run.columns
    )


def series_title(series: str, series_names: dict[str, dict[str, Any]]) -> str:
    return str((series_names.get(series) or {}).get("name") or series)


def _description(series: str, series_names: dict[str, dict[str, Any]]) -> str:
    return str((series_names.get(series) or {}).get("description") or "")


def series_index_page(by_series: dict[str, list[Run]], series_names: dict[str, dict[str, Any]]) -> str:
    items = "".join(
        f'<li><a href="{slug(series)}.html">{escape(series_title(series, series_names))}</a> '
        f"<span class='muted'>{len(runs)} runs · {escape(_description(series, series_names))}</span></li>"
        for series, runs in sorted(by_series.items())
    )
    body = f"<h1>Series</h1><ul>{items}</ul>" if items else "<h1>Series</h1><p>No run names a series yet.</p>"
    return page("Series", body, depth=1)


def series_page(series: str, runs: list[Run], series_names: dict[str, dict[str, Any]]) -> str:
    """Every metric of the series as a chart across its runs (oldest first), then the runs themselves."""
    ordered = sorted(runs, key=lambda r: (r.created, r.key))
    labels = [r.created[:19].replace("T", " ") or r.name for r in ordered]
    points: dict[str, list[SeriesPoint]] = {}
    units: dict[str, str | None] = {}
    descriptions: dict[str, str] = {}
    for index, run in enumerate(ordered):
        for metric in run.metrics:
            units.setdefault(metric.name, metric.unit)
            descriptions.setdefault(metric.name, metric.description)
            for target, value in metric.values.items():
                href, label = f"../runs/{run.key}.html", f"{run.title}, {labels[index]}"
                points.setdefault(metric.name, []).append(SeriesPoint(index, target, value, href, label, run.verdict))
    figures = "".join(
        f'<figure class="chart" data-metric="{escape(name)}"><figcaption>{escape(descriptions[name] or name)}'
        f'</figcaption><div class="muted"><code>{escape(name)}</code></div>'
        f"{series_chart(name, units[name], labels, pts)}</figure>"
        for name, pts in sorted(points.items())
    )
    last_two = "&".join(f"run={r.key}" for r in ordered[-2:])
    compare = f"<p><a href='../compare.html?{last_two}'>Compare the last two runs</a></p>" if len(ordered) > 1 else ""
    rows = "".join(
        f"<tr><td>{escape(labels[i])}</td><td><a href='../runs/{r.key}.html'>{escape(r.title)}</a></td>"
        f"<td>{verdict_badge(r.verdict)}</td><td class='num'>{money(r.cost)}</td></tr>"
        for i, r in enumerate(ordered)
    )
    body = (
        f"<h1>{escape(series_title(series, series_names))}</h1>"
        f"<p>{escape(_description(series, series_names))}</p><p class='muted'>{len(ordered)} runs, oldest first. "
        f"Points are filled by the run's verdict; select one to open the run.</p>{verdict_legend()}{compare}"
        f"<h2>Metrics across runs</h2><div class='charts'>{figures or '<p class=nodata>No metric has data.</p>'}</div>"
        "<h2>Runs</h2><div class='table-wrap'><table><tr><th>Date</th><th>Run</th><th>Verdict</th><th>Cost</th></tr>"
        f"{rows}</table></div>"
    )
    return page(series_title(series, series_names), body, depth=1)
