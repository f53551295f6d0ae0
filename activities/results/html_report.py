"""The experiment report: one self-contained HTML file per experiment, built from ``summary.json``.

Everything is inline (CSS, SVG charts, a few lines of JS that only mark the page as rendered), so the
file works offline and from any bucket or mail attachment. It answers, in order: what was tested, the
verdict and why (each criterion's value against its threshold), every metric as a chart, what it cost,
how the run went (phase timeline, conditions) and where its Temporal history is.
"""

from __future__ import annotations

from html import escape
from typing import Any

from activities.results.metrics_snapshot import QueryResult
from activities.results.report_charts import chart, format_value

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111827;background:#f9fafb}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb}
.muted{color:#6b7280}.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600}
.validated{background:#dcfce7;color:#166534}.invalidated{background:#fee2e2;color:#991b1b}
.insufficient,.none{background:#fef3c7;color:#92400e}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #e5e7eb;padding:4px 8px;
text-align:left;vertical-align:top}code{font:12px ui-monospace,monospace;word-break:break-all}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(520px,100%),1fr));gap:16px}
figure.chart{background:#fff;border:1px solid #e5e7eb;border-radius:6px;margin:0;padding:10px}
figure.chart figcaption{font-weight:600}.chart-svg{width:100%;height:auto}
.grid{stroke:#e5e7eb;stroke-width:1}.tick{font-size:10px;fill:#6b7280}
.legend{list-style:none;padding:0;margin:4px 0 0;font-size:12px;display:flex;flex-wrap:wrap;gap:4px 12px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.nodata{padding:24px;color:#92400e;background:#fffbeb}pre{background:#111827;color:#f9fafb;padding:10px;
overflow:auto;font-size:12px}.ai-note{font-size:12px;color:#6b7280}
"""

# Counts charts the browser actually laid out; errors are written into the page so a headless check can see them.
SCRIPT = """
(function(){var errors=[];function record(m){errors.push(String(m));
document.documentElement.setAttribute('data-report-errors',errors.join(' | '));}
window.addEventListener('error',function(e){record(e.message);});
var original=console.error;console.error=function(){record(Array.prototype.join.call(arguments,' '));
return original.apply(console,arguments);};
document.addEventListener('DOMContentLoaded',function(){
var n=0;document.querySelectorAll('figure.chart svg').forEach(function(s){var r=s.getBoundingClientRect();
if(r.width>0&&r.height>0&&s.querySelector('.series'))n++;});
document.documentElement.setAttribute('data-charts-rendered',String(n));});})();
"""


OPERATOR_SYMBOLS = {"lt": "&lt;", "lte": "≤", "gt": "&gt;", "gte": "≥"}


def render_report(summary: dict[str, Any], links: dict[str, str] | None = None) -> str:
    title = summary.get("title") or summary.get("name", "experiment")
    body = "".join(
        [
            _header(summary, title),
            _hypothesis(summary.get("hypothesis")),
            _analysis(summary.get("analysis")),
            _metrics(summary.get("metrics") or {}),
            _statistics(summary.get("metricStatistics") or {}),
            _cost(summary.get("costEstimate")),
            _timeline(summary),
            _snippets(summary.get("codeSnippets") or {}),
            _links(summary, links or {}),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(str(title))} — experiment report</title><style>{CSS}</style>"
        f"<script>{SCRIPT}</script></head><body><main>{body}</main></body></html>"
    )


def _header(summary: dict[str, Any], title: str) -> str:
    verdict = (summary.get("hypothesis") or {}).get("machineVerdict")
    badge = f'<span class="verdict {escape(verdict)}">{escape(verdict)}</span>' if verdict else ""
    facts = [
        ("Experiment", f"{summary.get('namespace', '')}/{summary.get('name', '')}"),
        ("Phase", summary.get("phase")),
        ("Created", summary.get("createdAt")),
        ("Completed", summary.get("completedAt")),
        ("Duration", f"{summary.get('durationSeconds', 0):.0f} s"),
        ("Run", summary.get("uuid")),
        ("Targets", ", ".join(_target_text(t) for t in summary.get("targets") or [])),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts if v)
    description = f"<p>{escape(summary['description'])}</p>" if summary.get("description") else ""
    return f"<h1>{escape(str(title))} {badge}</h1>{description}<table class='facts'>{rows}</table>"


def _target_text(target: dict[str, Any]) -> str:
    details = [target.get("clusterType"), target.get("machineType")]
    if target.get("nodeCount"):
        details.append(f"{target['nodeCount']} node(s)")
    return f"{target.get('name')} ({', '.join(str(d) for d in details if d)})"


def _hypothesis(block: dict[str, Any] | None) -> str:
    if not block:
        return ""
    verdict = block.get("machineVerdict")
    head = f"<h2>Hypothesis</h2><p><strong>Claim:</strong> {escape(block.get('claim', ''))}</p>"
    if verdict:
        head += (
            f'<p>Machine verdict: <span class="verdict {escape(verdict)}">{escape(verdict)}</span> '
            f'<span class="muted">{escape(block.get("verdictMessage", ""))}</span></p>'
        )
    rows = []
    for c in block.get("successCriteria") or []:
        per_target = c.get("actualPerTarget") or {}
        detail = "".join(f"<br><span class='muted'>{escape(t)}: {v:.4g}</span>" for t, v in per_target.items())
        rows.append(
            f"<tr class='criterion {escape(c.get('outcome', ''))}'><td>{escape(c['metric'])}"
            f"<br><code>{escape(c.get('query', ''))}</code></td><td>{escape(c.get('actualValue', '—'))}{detail}</td>"
            f"<td>{OPERATOR_SYMBOLS.get(c['operator'], c['operator'])} {escape(c['value'])}</td>"
            f"<td>{escape(c.get('outcome', ''))}</td></tr>"
        )
    if not rows:
        return head + "<p class='muted'>No success criteria: the verdict is left to the analysis.</p>"
    table = "<tr><th>Metric / query</th><th>Actual</th><th>Threshold</th><th>Outcome</th></tr>" + "".join(rows)
    return head + f"<table class='hypothesis'>{table}</table>"


def _analysis(analysis: dict[str, Any] | None) -> str:
    if not analysis:
        return ""
    note = (
        "<p class='ai-note'>Computed summary — not AI-written.</p>"
        if analysis.get("aiGenerated") is False
        else f"<p class='ai-note'>Written by {escape(str(analysis.get('model', 'an AI model')))}.</p>"
    )
    parts = [f"<h2>Analysis</h2>{note}"]
    if analysis.get("abstract"):
        parts.append(f"<p>{escape(str(analysis['abstract']))}</p>")
    for finding in (analysis.get("performanceAnalysis") or {}).get("findings") or []:
        parts.append(f"<p>• {escape(str(finding))}</p>")
    glossary = analysis.get("glossary") or []
    if glossary:
        rows = "".join(f"<tr><th>{escape(g['term'])}</th><td>{escape(g['definition'])}</td></tr>" for g in glossary)
        parts.append(f"<h3>Glossary</h3><table>{rows}</table>")
    return "".join(parts)


def _metrics(metrics: dict[str, Any]) -> str:
    queries = metrics.get("queries") or {}
    if not queries:
        return "<h2>Metrics</h2><p class='nodata'>No metrics were collected.</p>"
    figures = []
    for name, raw in queries.items():
        result = QueryResult.model_validate(raw)
        caption = escape(result.description or name)
        source = f" · {escape(result.source)}" if result.source else ""
        figures.append(
            f'<figure class="chart" data-metric="{escape(name)}"><figcaption>{caption}</figcaption>'
            f'<div class="muted"><code>{escape(name)}</code>{source}</div>{chart(name, result)}</figure>'
        )
    window = metrics.get("timeRange") or {}
    span = f"{window.get('start', '')} → {window.get('end', '')}, step {window.get('stepSeconds', '')} s"
    return f"<h2>Metrics</h2><p class='muted'>{escape(span)}</p><div class='charts'>{''.join(figures)}</div>"


def _statistics(stats: dict[str, dict[str, dict[str, float]]]) -> str:
    if not stats:
        return ""
    rows = "".join(
        f"<tr><td>{escape(metric)}</td><td>{escape(target)}</td>"
        + "".join(f"<td>{s[k]:.4g}</td>" for k in ("mean", "min", "max", "last"))
        + "</tr>"
        for metric, targets in stats.items()
        for target, s in targets.items()
    )
    head = "<tr><th>Metric</th><th>Target</th><th>Mean</th><th>Min</th><th>Max</th><th>Last</th></tr>"
    return f"<h2>Statistics</h2><table class='stats'>{head}{rows}</table>"


def _cost(cost: dict[str, Any] | None) -> str:
    if not cost:
        return ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(b.get('provider')))}</td><td>{escape(str(b.get('machineType')))}"
        f"</td><td>{b.get('nodeCount')}</td><td>{'yes' if b.get('spot') else 'no'}</td>"
        f"<td>${b.get('hourlyRateUSD', 0):.4f}</td><td>${b.get('costUSD', 0):.4f}"
        f"{'' if b.get('priceKnown', True) else ' (unknown machine type, fallback price)'}</td></tr>"
        for name, b in (cost.get("breakdown") or {}).items()
    )
    head = (
        "<tr><th>Target</th><th>Provider</th><th>Machine</th><th>Nodes</th><th>Spot</th><th>$/h</th><th>Cost</th></tr>"
    )
    return (
        f"<h2>Cost</h2><p><strong>${cost.get('totalUSD', 0):.4f}</strong> over {cost.get('durationHours', 0):.2f} h"
        f" <span class='muted'>({escape(cost.get('note', ''))})</span></p><table class='cost'>{head}{rows}</table>"
    )


def _timeline(summary: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(t.get('time')))}</td><td>{escape(str(t.get('phase')))}</td></tr>"
        for t in summary.get("timeline") or []
    )
    conditions = "".join(
        f"<tr><td>{escape(c.get('type', ''))}</td><td>{escape(c.get('status', ''))}</td>"
        f"<td>{escape(c.get('reason', ''))}</td><td>{escape(c.get('message', ''))}</td></tr>"
        for c in summary.get("conditions") or []
    )
    out = "<h2>Timeline</h2>"
    out += f"<table class='timeline'><tr><th>Time</th><th>Phase</th></tr>{rows}</table>" if rows else ""
    if conditions:
        head = "<tr><th>Condition</th><th>Status</th><th>Reason</th><th>Message</th></tr>"
        out += f"<h3>Conditions</h3><table>{head}{conditions}</table>"
    return out


def _snippets(snippets: dict[str, Any]) -> str:
    parts = []
    for key, s in snippets.items():
        lines = f"L{s.get('startLine', 1)}–{s.get('endLine', '')}" if s.get("startLine") else ""
        origin = f"{s.get('repo', '')}/{s.get('path', '')} {lines}"
        content = escape(s.get("content") or f"(not fetched: {s.get('error', 'unknown')})")
        parts.append(f"<h3>{escape(key)}</h3><p class='muted'>{escape(origin)}</p><pre>{content}</pre>")
    return "<h2>Code</h2>" + "".join(parts) if parts else ""


def _links(summary: dict[str, Any], links: dict[str, str]) -> str:
    temporal = summary.get("temporal") or {}
    items = (
        [
            f"<li>Temporal workflow <code>{escape(temporal.get('workflowId', ''))}</code> run "
            f"<code>{escape(temporal.get('runId', ''))}</code></li>"
        ]
        if temporal
        else []
    )
    items += [f'<li><a href="{escape(url, quote=True)}">{escape(label)}</a></li>' for label, url in links.items()]
    return f"<h2>Links</h2><ul>{''.join(items)}</ul>" if items else ""


def key_numbers(summary: dict[str, Any], limit: int = 6) -> list[str]:
    """Short 'metric (target): mean' lines for PR bodies and computed abstracts."""
    lines = []
    units = {n: q.get("unit") for n, q in ((summary.get("metrics") or {}).get("queries") or {}).items()}
    for metric, targets in (summary.get("metricStatistics") or {}).items():
        for target, s in targets.items():
            lines.append(f"{metric} ({target}): mean {format_value(s['mean'], units.get(metric))}")
    return lines[:limit]
