"""Reading the site's rendered pages: chart points, comparison cells (what the tests assert on)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FIGURE = re.compile(r'<figure class="chart" data-metric="([^"]+)">(.*?)</figure>', re.S)
POINT = re.compile(r'<a href="([^"]+)" class="point-link"><circle class="point ([a-z-]+)"[^>]*data-value="([^"]+)"')
ROW = re.compile(r'<tr data-metric="([^"]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="num" data-col="(\d+)"([^>]*)>')
ATTR = re.compile(r'data-([a-z]+)="([^"]*)"')


@dataclass(frozen=True)
class ChartPoint:
    href: str
    verdict: str
    value: float


def chart_points(dom: str) -> dict[str, list[ChartPoint]]:
    """Metric → the linked points its series chart shows."""
    return {
        metric: [ChartPoint(h, v, float(x)) for h, v, x in POINT.findall(body)] for metric, body in FIGURE.findall(dom)
    }


def comparison_cells(dom: str) -> dict[str, dict[int, dict[str, Any]]]:
    """Metric (or ``cost``) → column → {value, base, diff, ratio} as numbers (what the cells carry)."""
    table: dict[str, dict[int, dict[str, Any]]] = {}
    for metric, body in ROW.findall(dom):
        for col, attrs in CELL.findall(body):
            fields = dict(ATTR.findall(attrs))
            table.setdefault(metric, {})[int(col)] = {k: float(v) for k, v in fields.items() if k != "col"}
    return table


def representative(stats: dict[str, Any]) -> float:
    """What the site shows for a metric of one target: an instant query's value, else the mean."""
    return float(stats["last"] if stats["count"] == 1 else stats["mean"])
