"""The series chart: one metric's value across the runs of a series, drawn as SVG when the site is built.

The x axis is the runs in date order (evenly spaced, so a burst of runs on one day stays readable),
one line per target; every point links to its run's page and is filled by that run's verdict, so a
run that stopped validating its hypothesis stands out. Axes, palette and number format are the
report's (activities/results/report_charts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from activities.results.report_charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    PALETTE,
    RIGHT,
    TOP,
    WIDTH,
    axes,
    format_value,
    nice_scale,
)

VERDICT_FILL = {"validated": "#16a34a", "invalidated": "#dc2626", "insufficient": "#f59e0b"}
NO_VERDICT_FILL = "#ffffff"


@dataclass(frozen=True)
class SeriesPoint:
    run_index: int  # position of the run on the x axis
    target: str
    value: float
    href: str
    label: str  # run title and date, for the tooltip
    verdict: str


def series_chart(metric: str, unit: str | None, run_labels: list[str], points: list[SeriesPoint]) -> str:
    """An ``<svg>`` with one linked, verdict-coloured point per (run, target) and a legend."""
    targets = sorted({p.target for p in points})
    lo, hi = nice_scale(min(p.value for p in points), max(p.value for p in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slots = max(len(run_labels) - 1, 1)

    def xy(p: SeriesPoint) -> tuple[float, float]:
        x = LEFT + plot_w * (p.run_index / slots if len(run_labels) > 1 else 0.5)
        return x, TOP + plot_h - plot_h * (p.value - lo) / (hi - lo)

    lines, marks = [], []
    for i, target in enumerate(targets):
        color = PALETTE[i % len(PALETTE)]
        mine = sorted((p for p in points if p.target == target), key=lambda p: p.run_index)
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, mine))
        lines.append(
            f'<polyline class="series" points="{coords}" fill="none" stroke="{color}" stroke-width="1.6">'
            f"<title>{escape(target)}</title></polyline>"
        )
        for p in mine:
            x, y = xy(p)
            text = f"{p.label} — {target}: {format_value(p.value, unit)} ({p.verdict})"
            marks.append(
                f'<a href="{escape(p.href, quote=True)}" class="point-link"><circle class="point {escape(p.verdict)}" '
                f'cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{VERDICT_FILL.get(p.verdict, NO_VERDICT_FILL)}" '
                f'stroke="{color}" stroke-width="1.5" data-value="{p.value!r}" data-target="{escape(target)}">'
                f"<title>{escape(text)}</title></circle></a>"
            )
    ends = (
        f'<text x="{LEFT}" y="{HEIGHT - 12}" class="tick">{escape(run_labels[0])}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" class="tick">{escape(run_labels[-1])}</text>'
    )
    legend = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>{escape(t)}</li>'
        for i, t in enumerate(targets)
    )
    return (
        f'<svg class="chart-svg" data-kind="series" data-points="{len(points)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(metric)} across runs" xmlns="http://www.w3.org/2000/svg">'
        f"{axes(lo, hi, unit)}{''.join(lines)}{''.join(marks)}{ends}</svg><ul class='legend'>{legend}</ul>"
    )


def verdict_legend() -> str:
    items = [*VERDICT_FILL.items(), ("no verdict", NO_VERDICT_FILL)]
    return (
        "<ul class='legend verdict-legend'>"
        + "".join(
            f'<li><span class="swatch dot" style="background:{fill}"></span>{escape(name)}</li>' for name, fill in items
        )
        + "</ul>"
    )
