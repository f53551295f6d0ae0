"""Inline SVG charts for the report: lines for range queries, bars for instant ones, one series per pod/target.

Drawn server-side as plain SVG, so the report needs no JavaScript library, no CDN and no network: it
opens from a laptop's downloads folder years later and still shows every metric.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from html import escape

from activities.results.metrics_snapshot import DataPoint, QueryResult
from api.experiment import MetricType

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 12, 36
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563")
MAX_SERIES = 12
"""More lines than this are unreadable; the rest are folded into the legend note."""


def series_name(point: DataPoint) -> str:
    """Target first, then the labels that tell series apart (pod, container, ...), never the metric name."""
    labels = dict(point.labels or {})
    labels.pop("__name__", None)
    target = labels.pop("target", None)
    rest = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return " ".join(filter(None, [target, rest])) or "value"


def group_series(points: list[DataPoint]) -> dict[str, list[DataPoint]]:
    grouped: dict[str, list[DataPoint]] = defaultdict(list)
    for point in points:
        grouped[series_name(point)].append(point)
    return {name: sorted(pts, key=lambda p: p.timestamp) for name, pts in sorted(grouped.items())}


def format_value(value: float, unit: str | None) -> str:
    if unit == "bytes":
        for suffix, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.3g} B"
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit else text


def chart(name: str, result: QueryResult) -> str:
    """An ``<svg>`` for one query, or a 'no data' panel stating why."""
    if not result.data:
        reason = result.error or "the query returned no samples"
        return f'<div class="nodata" data-metric="{escape(name)}">No data: {escape(reason)}</div>'
    series = group_series(result.data)
    shown = dict(list(series.items())[:MAX_SERIES])
    body = _lines(shown, result.unit) if result.type == MetricType.RANGE else _bars(shown, result.unit)
    legend = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>{escape(label)}</li>'
        for i, label in enumerate(shown)
    )
    more = f"<li>… and {len(series) - len(shown)} more series</li>" if len(series) > len(shown) else ""
    kind = "line" if result.type == MetricType.RANGE else "bar"
    return (
        f'<svg class="chart-svg" data-kind="{kind}" data-series="{len(shown)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(name)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
        f'<ul class="legend">{legend}{more}</ul>'
    )


def nice_scale(lo: float, hi: float) -> tuple[float, float]:
    lo = min(lo, 0.0)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def axes(lo: float, hi: float, unit: str | None) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(format_value(value, unit))}'
            "</text>"
        )
    return "".join(parts)


def _lines(series: dict[str, list[DataPoint]], unit: str | None) -> str:
    points = [p for pts in series.values() for p in pts]
    lo, hi = nice_scale(min(p.value for p in points), max(p.value for p in points))
    t0 = min(p.timestamp for p in points).timestamp()
    t1 = max(p.timestamp for p in points).timestamp()
    span = (t1 - t0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(p: DataPoint) -> str:
        x = LEFT + plot_w * (p.timestamp.timestamp() - t0) / span
        y = TOP + plot_h - plot_h * (p.value - lo) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    paths = []
    for i, (label, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        if len(pts) == 1:
            x, y = xy(pts[0]).split(",")
            paths.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"><title>{escape(label)}</title></circle>')
        else:
            coords = " ".join(xy(p) for p in pts)
            paths.append(
                f'<polyline class="series" points="{coords}" fill="none" stroke="{color}" stroke-width="1.6">'
                f"<title>{escape(label)}</title></polyline>"
            )
    start, end = _clock(min(p.timestamp for p in points)), _clock(max(p.timestamp for p in points))
    times = (
        f'<text x="{LEFT}" y="{HEIGHT - 12}" class="tick">{start}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" class="tick">{end}</text>'
    )
    return axes(lo, hi, unit) + "".join(paths) + times


def _bars(series: dict[str, list[DataPoint]], unit: str | None) -> str:
    values = {label: pts[-1].value for label, pts in series.items()}
    lo, hi = nice_scale(min(values.values()), max(values.values()))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(values)
    width = max(slot * 0.7, 2.0)
    zero_y = TOP + plot_h - plot_h * (0 - lo) / (hi - lo)
    bars = []
    for i, (label, value) in enumerate(values.items()):
        y = TOP + plot_h - plot_h * (value - lo) / (hi - lo)
        top, height = min(y, zero_y), max(abs(zero_y - y), 1.0)
        x = LEFT + slot * i + (slot - width) / 2
        bars.append(
            f'<rect class="series" x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: {escape(format_value(value, unit))}</title>'
            "</rect>"
        )
    return axes(lo, hi, unit) + "".join(bars)


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
