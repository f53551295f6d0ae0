"""The comparison page: any runs, or the targets of one run, side by side with difference and ratio.

Which runs is only known when someone picks them, so the page is one static file that reads the
``run`` parameters of its URL (``compare.html?run=<key>&run=<key>:<target>``) and the per-run numbers
from ``runs.js``, which a ``<script src>`` loads from disk as well as from a server (a ``fetch`` of a
JSON file would be refused from ``file://``). A column's baseline is the first column of the same
target (run against run, like for like), else the first column (target against target); every cell
shows its value, the difference to its baseline and the ratio.
"""

from __future__ import annotations

import json
from functools import partial

from labctl.site.layout import page, script
from labctl.site.runs import Run

DATA_FILE = "runs.js"


def run_data(runs: list[Run]) -> str:
    """``runs.js``: what the comparison needs of every run, keyed by run key."""
    entries = ",".join(run.part("comparison-data", None, partial(_run_entry, run)) for run in runs)
    return "window.SITE_RUNS={" + entries + "};\n"


def _run_entry(run: Run) -> str:
    metrics = {
        m.name: {"unit": m.unit, "description": m.description, "values": m.values} for m in run.metrics if m.values
    }
    entry = {
        "title": run.title,
        "name": run.name,
        "created": run.created,
        "verdict": run.verdict,
        "claim": run.claim,
        "cost": run.cost,
        "columns": run.columns or [""],
        "metrics": metrics,
    }
    return _json(run.key) + ":" + _json(entry)


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compare_page() -> str:
    body = (
        "<h1>Comparison</h1><p class='muted'>Each column is compared with the first column of the same target (else "
        "the first column): Δ is the difference, × the ratio. Costs are each run's estimate.</p>"
        "<div id='comparison'><noscript>The comparison is computed in the browser: enable JavaScript, or compare "
        "the run pages.</noscript></div>"
    )
    return page("Comparison", body, depth=0, head=f'<script src="{DATA_FILE}"></script>', script=script("compare.js"))
