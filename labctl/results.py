"""``labctl results NAME`` and ``labctl report NAME``: an experiment's summary.json and HTML report from S3.

Where they are comes from the Experiment (``status.resultsURL``, ``s3://bucket/<namespace>/<name>/<uid>/``);
how to reach S3 from ``--s3-endpoint`` or ``S3_ENDPOINT`` and ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (what
``labctl lab env`` prints). The summary is read defensively: per-target numbers may be in
``metricStatistics``, ``metrics.targets`` or only in ``metrics.queries`` (older summaries).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from api.names import Identity, results_prefix
from labctl.command import EXIT_OK, LabctlError, Subparsers
from labctl.experiments import Experiments, Obj, add_cluster_options, phase_of, status_of, table
from labctl.seaweedfs import S3Endpoint
from labctl.settings import LabctlSettings

REPORT_FILE = "report.html"
ALL_TARGETS = "(all)"


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    results = subparsers.add_parser(
        "results",
        help="an experiment's metrics, success criteria and verdict (from summary.json)",
        description="Print the metric table (per target), the hypothesis criteria and the verdict from the "
        "experiment's summary.json in S3.",
    )
    results.add_argument("name", metavar="NAME")
    _add_s3_options(results)
    results.add_argument("-o", "--output", choices=("text", "json"), default="text", help="json: the summary.json")
    results.set_defaults(handler=show_results)

    report = subparsers.add_parser(
        "report",
        help="download an experiment's HTML report",
        description="Download the experiment's report.html from S3 to a local file and print its path.",
    )
    report.add_argument("name", metavar="NAME")
    _add_s3_options(report)
    report.add_argument("-o", "--output", metavar="PATH", help="where to write it (default ./<name>-report.html)")
    report.add_argument("--open", action="store_true", help="open it in a browser afterwards")
    report.set_defaults(handler=fetch_report)


def _add_s3_options(parser: argparse.ArgumentParser) -> None:
    add_cluster_options(parser)
    parser.add_argument("--s3-endpoint", metavar="URL", help="S3 endpoint (default $S3_ENDPOINT)")


# ------------------------------------------------------------------------------------ locating


@dataclass(frozen=True)
class ResultsLocation:
    bucket: str
    prefix: str  # "<namespace>/<name>/<uid>/" (api.names.results_prefix)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def results_location(obj: Obj) -> ResultsLocation:
    url = status_of(obj).results_url
    name = obj["metadata"]["name"]
    if not url or url == "disabled":
        state = "results storage is disabled" if url == "disabled" else "status.resultsURL is not set yet"
        raise LabctlError(f"experiment {name} has no results: {state} (phase {phase_of(obj)})")
    if not url.startswith("s3://"):
        raise LabctlError(f"experiment {name}: resultsURL {url!r} is not an s3:// URL")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    if not prefix:  # a bucket-only URL: the object's own prefix
        meta = obj["metadata"]
        return ResultsLocation(bucket, results_prefix(Identity(meta["namespace"], meta["name"], meta["uid"])))
    return ResultsLocation(bucket, f"{prefix}/")


def s3_endpoint(settings: LabctlSettings, flag: str | None) -> S3Endpoint:
    address = flag or settings.s3_endpoint
    if not address:
        raise LabctlError("no S3 endpoint: pass --s3-endpoint or set S3_ENDPOINT (see `labctl lab env`)")
    url = address if "://" in address else f"http://{address}"
    return S3Endpoint(url, *settings.s3_credentials)


def read_object(endpoint: S3Endpoint, location: ResultsLocation, key: str, what: str) -> bytes:
    try:
        answer = endpoint.client(retries=2, timeout=15).get_object(Bucket=location.bucket, Key=key)
        return bytes(answer["Body"].read())
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            raise LabctlError(f"{what} is not there yet: {location.url(key)} does not exist") from exc
        if code == "NoSuchBucket":
            raise LabctlError(f"bucket {location.bucket!r} does not exist at {endpoint.url}") from exc
        raise LabctlError(f"cannot read {location.url(key)} from {endpoint.url}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise LabctlError(f"cannot reach S3 at {endpoint.url}: {type(exc).__name__}") from exc


# ------------------------------------------------------------------------------------- results


def show_results(args: argparse.Namespace) -> int:
    obj = Experiments.connect(args).get(args.name)
    location = results_location(obj)
    key = location.prefix + "summary.json"
    raw = read_object(s3_endpoint(args.settings, args.s3_endpoint), location, key, "summary.json")
    try:
        summary = json.loads(raw)
    except ValueError as exc:
        raise LabctlError(f"{location.url(key)} is not JSON: {exc}") from exc
    if not isinstance(summary, dict):
        raise LabctlError(f"{location.url(key)} is not a summary object")
    if args.output == "json":
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    for line in results_lines(summary, status_of(obj).hypothesis_result):
        print(line)
    return EXIT_OK


def results_lines(summary: dict[str, Any], status_verdict: str | None = None) -> list[str]:
    lines = [f"Results of {summary.get('name', '?')} (phase {summary.get('phase', '?')})"]
    metrics = metric_rows(summary)
    lines.append("")
    if metrics:
        targets = sorted({t for row in metrics for t in row.values_by_target})
        headers = ["METRIC", "TYPE", "UNIT", *[t.upper() if t == ALL_TARGETS else t for t in targets]]
        rows = [[m.name, m.type, m.unit, *[m.values_by_target.get(t, m.note) for t in targets]] for m in metrics]
        if not targets:
            headers, rows = ["METRIC", "TYPE", "UNIT", "VALUE"], [[m.name, m.type, m.unit, m.note] for m in metrics]
        lines += ["Metrics (value of an instant query, mean of a range query):", *table(headers, rows)]
    else:
        lines.append("Metrics: none collected")
    hypothesis = summary.get("hypothesis") if isinstance(summary.get("hypothesis"), dict) else {}
    criteria = [c for c in (hypothesis or {}).get("successCriteria") or [] if isinstance(c, dict)]
    if criteria:
        criteria_rows = [
            [c.get("metric"), c.get("operator"), c.get("value"), _number(c.get("actualValue")), _passed(c)]
            for c in criteria
        ]
        headers = ["METRIC", "OPERATOR", "THRESHOLD", "ACTUAL", "PASSED"]
        lines += ["", "Success criteria:", *table(headers, criteria_rows)]
    if hypothesis and hypothesis.get("claim"):
        lines += ["", f"Claim:   {hypothesis['claim']}"]
    verdict = (hypothesis or {}).get("machineVerdict") or status_verdict
    message = (hypothesis or {}).get("verdictMessage")
    lines.append(f"Verdict: {verdict or 'none (no success criteria)'}" + (f" — {message}" if message else ""))
    return [line.rstrip() for line in lines]


@dataclass
class MetricRow:
    name: str
    type: str
    unit: str
    numbers: dict[str, float]  # per target: an instant query's value, a range query's mean
    note: str  # shown where there is no value: "-", "no data" or the error

    @property
    def values_by_target(self) -> dict[str, str]:
        return {t: _format(v) for t, v in self.numbers.items()}


def metric_rows(summary: dict[str, Any]) -> list[MetricRow]:
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else {}
    queries: dict[str, Any] = dict((metrics or {}).get("queries") or {})
    per_target: dict[str, dict[str, Any]] = {
        t: dict((block or {}).get("queries") or {}) for t, block in ((metrics or {}).get("targets") or {}).items()
    }
    for block in per_target.values():
        for name, query in block.items():
            queries.setdefault(name, query)
    stats = summary.get("metricStatistics") if isinstance(summary.get("metricStatistics"), dict) else {}
    rows = []
    for name, query in queries.items():
        query = query if isinstance(query, dict) else {}
        values = _values(name, query, per_target, (stats or {}).get(name))
        note = f"error: {query['error']}" if query.get("error") and not values else "no data"
        rows.append(MetricRow(name, str(query.get("type") or "-"), str(query.get("unit") or "-"), values, note))
    return rows


def _values(
    name: str, query: dict[str, Any], per_target: dict[str, dict[str, Any]], stats: dict[str, Any] | None
) -> dict[str, float]:
    """Per target: the single value of an instant query, else the mean (from statistics when present)."""
    if isinstance(stats, dict) and stats:
        found = {t: s.get("last") if s.get("count") == 1 else s.get("mean") for t, s in stats.items()}
        return {t: float(v) for t, v in found.items() if isinstance(v, int | float)}
    if per_target:
        found = {t: _representative(block[name]) for t, block in per_target.items() if name in block}
        return {t: v for t, v in found.items() if v is not None}
    by_target: dict[str, list[float]] = {}
    for point in query.get("data") or []:
        target = ((point.get("labels") or {}).get("target")) or ALL_TARGETS
        if isinstance(point.get("value"), int | float):
            by_target.setdefault(target, []).append(float(point["value"]))
    return {t: fmean(v) for t, v in by_target.items() if v}


def _representative(query: Any) -> float | None:
    values = [float(p["value"]) for p in (query or {}).get("data") or [] if isinstance(p.get("value"), int | float)]
    return fmean(values) if values else None


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


def _number(value: Any) -> str:
    try:
        return _format(float(value))
    except (TypeError, ValueError):
        return "-"


def _passed(criterion: dict[str, Any]) -> str:
    passed = criterion.get("passed")
    if passed is True:
        return "yes"
    if passed is False:
        return "no"
    return str(criterion.get("outcome") or "no data")


# -------------------------------------------------------------------------------------- report


def fetch_report(args: argparse.Namespace) -> int:
    obj = Experiments.connect(args).get(args.name)
    location = results_location(obj)
    html = read_object(
        s3_endpoint(args.settings, args.s3_endpoint), location, location.prefix + REPORT_FILE, "the report"
    )
    path = Path(args.output) if args.output else Path.cwd() / f"{args.name}-report.html"
    try:
        path.write_bytes(html)
    except OSError as exc:
        raise LabctlError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(path)
    if args.open:
        _open(path)
    return EXIT_OK


def _open(path: Path) -> None:
    opener = shutil.which("xdg-open") or shutil.which("open")
    if opener:
        subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elif not webbrowser.open(path.resolve().as_uri()):
        raise LabctlError(f"no browser found; open {path} yourself")
