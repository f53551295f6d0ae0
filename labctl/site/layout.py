"""The frame every site page shares: the report's CSS and error-recording script, plus navigation,
phone and print rules and visible keyboard focus."""

from __future__ import annotations

import re
from functools import cache
from html import escape
from pathlib import Path

from activities.results.html_report import CSS as REPORT_CSS
from activities.results.html_report import SCRIPT as REPORT_SCRIPT

SITE_CSS = """
nav.site{background:#111827;padding:8px 24px}nav.site a{color:#f9fafb;margin-right:16px;font-weight:600}
a{color:#1d4ed8}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible
{outline:3px solid #f59e0b;outline-offset:2px}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;color:#111827;padding:6px;z-index:9}
.filters{display:flex;flex-wrap:wrap;gap:8px 16px;margin:12px 0}.filters label{display:flex;flex-direction:column;
font-size:12px;color:#374151}.filters input,.filters select{font:inherit;padding:4px;min-width:9em}
.table-wrap{overflow-x:auto}th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;
color:inherit;text-align:left}th[aria-sort=ascending] button::after{content:" ▲"}
th[aria-sort=descending] button::after{content:" ▼"}.tag{display:inline-block;background:#e5e7eb;border-radius:8px;
padding:0 6px;margin:1px;font-size:12px}.num{text-align:right;white-space:nowrap}.delta{font-size:12px;color:#374151}
.delta.up{color:#9a3412}.delta.down{color:#1e40af}.compare-bar{display:flex;gap:12px;align-items:center;margin:8px 0}
.compare-bar button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #1d4ed8;background:#1d4ed8;
color:#fff}.swatch.dot{border-radius:50%;border:1px solid #6b7280}.point-link:focus circle{stroke-width:4}
@media (max-width:720px){main{padding:12px}nav.site{padding:8px 12px}.charts{grid-template-columns:1fr}
h1{font-size:20px}.runs,.runs tbody,.runs tbody tr{display:block}
.runs thead tr{display:flex;flex-wrap:wrap;gap:4px 14px}.runs th{border:0;padding:2px}.runs th.pick{display:none}
.runs tbody tr{border:1px solid #e5e7eb;margin:8px 0;background:#fff;padding:6px}
.runs td{display:inline-block;border:0;padding:2px 6px;vertical-align:middle}
.runs td:nth-child(2){display:block}.runs .wide{display:none}}.runs tr[hidden]{display:none}
.target-pick{display:block;font-size:12px}
@media print{nav.site,.filters,.compare-bar,.pick,.skip{display:none}body{background:#fff}main{max-width:none}
a{color:inherit;text-decoration:none}figure.chart,tr{break-inside:avoid}}
"""


def page(title: str, body: str, *, depth: int, script: str = "", head: str = "") -> str:
    """A complete page; ``depth`` is how many folders below the site root it lives (for relative links)."""
    up = "../" * depth
    nav = (
        '<a class="skip" href="#content">Skip to content</a><nav class="site" aria-label="Site">'
        f'<a href="{up}index.html">All runs</a><a href="{up}series/index.html">Series</a>'
        f'<a href="{up}compare.html">Compare</a></nav>'
    )
    tail = f"<script>{script}</script>" if script else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} — experiment results</title><style>{REPORT_CSS}{SITE_CSS}</style>"
        f'<script>{REPORT_SCRIPT}</script>{head}</head><body>{nav}<main id="content">{body}</main>{tail}</body></html>'
    )


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "none"


def verdict_badge(verdict: str) -> str:
    return f'<span class="verdict {escape(verdict)}">{escape(verdict)}</span>'


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


@cache
def script(name: str) -> str:
    """One of the site's scripts (labctl/site/scripts), to be inlined into a page."""
    return (Path(__file__).parent / "scripts" / name).read_text()
