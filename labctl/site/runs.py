"""Where the site's runs come from: every ``summary.json`` in a results bucket, or a ``site/data`` folder.

Runs are discovered, never located by a naming rule: any object whose key ends in ``summary.json`` at
any depth is a run (so a change of results prefix needs no change here), and a run is identified by
the summary's own identity fields (namespace, name, uid when present, createdAt), not by where it was
found. The same run found twice (an old and a new prefix) is shown once, preferring the copy with an
analysis. A ``site/data`` folder (what the results PRs write) holds one ``<exp>.json`` per run plus
``_series.json`` naming the series; files starting with ``_`` are metadata, not runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from labctl.command import LabctlError
from labctl.results import metric_rows
from labctl.seaweedfs import S3Endpoint

SUMMARY_FILE = "summary.json"
SERIES_FILE = "_series.json"
READ_THREADS = 8


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str | None
    description: str
    values: dict[str, float]  # per target


@dataclass
class Run:
    """One experiment run as the site shows it, read defensively from its summary."""

    summary: dict[str, Any]
    key: str = field(init=False)
    _parts: dict[str, tuple[object, str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = run_key(self.summary)

    def part(self, name: str, depends: object, render: Callable[[], str]) -> str:
        """``render()`` of one part of a page that shows many runs (this run's row of the index, say), kept while
        ``depends`` (what else the part shows) is unchanged: rebuilding such a page renders only the new runs'."""
        kept = self._parts.get(name)
        if kept is None or kept[0] != depends:
            kept = self._parts[name] = (depends, render())
        return kept[1]

    @property
    def name(self) -> str:
        return str(self.summary.get("name") or "?")

    @property
    def title(self) -> str:
        return str(self.summary.get("title") or self.name)

    @property
    def series(self) -> str:
        return str(self.summary.get("series") or "")

    @property
    def tags(self) -> list[str]:
        return [str(t) for t in self.summary.get("tags") or []]

    @property
    def targets(self) -> list[str]:
        return [str(t.get("name")) for t in self.summary.get("targets") or [] if isinstance(t, dict)]

    @property
    def verdict(self) -> str:
        hypothesis = self.summary.get("hypothesis") if isinstance(self.summary.get("hypothesis"), dict) else {}
        analysis = self.summary.get("analysis") if isinstance(self.summary.get("analysis"), dict) else {}
        return str((hypothesis or {}).get("machineVerdict") or (analysis or {}).get("hypothesisVerdict") or "none")

    @property
    def claim(self) -> str:
        hypothesis = self.summary.get("hypothesis")
        return str(hypothesis.get("claim") or "") if isinstance(hypothesis, dict) else ""

    @property
    def cost(self) -> float | None:
        cost = self.summary.get("costEstimate")
        value = cost.get("totalUSD") if isinstance(cost, dict) else None
        return float(value) if isinstance(value, int | float) else None

    @property
    def created(self) -> str:
        return str(self.summary.get("createdAt") or "")

    @cached_property
    def metrics(self) -> list[Metric]:
        descriptions = {
            name: str((q or {}).get("description") or "")
            for name, q in ((self.summary.get("metrics") or {}).get("queries") or {}).items()
        }
        return [
            Metric(row.name, None if row.unit == "-" else row.unit, descriptions.get(row.name, ""), row.numbers)
            for row in metric_rows(self.summary)
        ]

    @cached_property
    def columns(self) -> list[str]:
        """The targets a comparison shows: those with metric values (named as in the data), summary order first."""
        with_data = {t for m in self.metrics for t in m.values}
        return [t for t in self.targets if t in with_data] + sorted(with_data - set(self.targets)) or self.targets[:1]


def run_key(summary: dict[str, Any]) -> str:
    """A file-safe page name, unique per experiment object and run: readable name plus an identity hash."""
    identity = "/".join(str(summary.get(k) or "") for k in ("namespace", "name", "uid", "createdAt"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    readable = re.sub(r"[^a-z0-9-]+", "-", str(summary.get("name") or "run").lower()).strip("-")[:60]
    return f"{readable}-{digest}"


def unique_runs(runs: Iterable[Run]) -> list[Run]:
    """One run per identity, newest date first; a copy with an analysis wins over one without."""
    chosen: dict[str, Run] = {}
    for run in runs:
        kept = chosen.get(run.key)
        if kept is None or ("analysis" in run.summary and "analysis" not in kept.summary):
            chosen[run.key] = run
    return sorted(chosen.values(), key=lambda r: (r.created, r.key), reverse=True)


class ParsedSummaries:
    """What was read of each summary, by location and version tag: a summary is read again only when its tag
    changes, so a rebuild after one summary lands reads one summary, not the whole store."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, Run | None]] = {}

    def runs(self, listing: dict[str, str], read: Callable[[str], bytes | None], threads: int = 1) -> list[Run]:
        """The runs of ``listing``; ``read`` gives a summary's bytes, or None when it cannot be read (skipped)."""
        stale = sorted(k for k, tag in listing.items() if k not in self._parsed or self._parsed[k][0] != tag)
        with ThreadPoolExecutor(threads) as pool:
            bodies = dict(zip(stale, pool.map(read, stale), strict=True))
        parsed = {k: v for k, v in self._parsed.items() if k in listing and k not in bodies}
        parsed.update((k, (listing[k], _parsed(body))) for k, body in bodies.items() if body is not None)
        self._parsed = parsed
        return unique_runs(run for _, run in (parsed[k] for k in sorted(parsed)) if run is not None)


class SummarySource(Protocol):
    def describe(self) -> str: ...

    def listing(self) -> dict[str, str]:
        """Every summary's location → a version tag; a changed listing means the site is stale."""
        ...

    def load(self, listing: dict[str, str]) -> list[Run]: ...

    def series_names(self) -> dict[str, dict[str, Any]]: ...


@dataclass
class BucketSummaries:
    endpoint: S3Endpoint
    bucket: str
    parsed: ParsedSummaries = field(default_factory=ParsedSummaries, repr=False, compare=False)

    def describe(self) -> str:
        return f"s3://{self.bucket} at {self.endpoint.url}"

    def listing(self) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            pages = self.endpoint.client(retries=2, timeout=15).get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket):
                for obj in page.get("Contents", []):
                    if obj["Key"].rsplit("/", 1)[-1] == SUMMARY_FILE:
                        found[obj["Key"]] = str(obj.get("ETag", "")) + str(obj.get("LastModified", ""))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                return {}  # nothing stored yet: an empty site
            raise LabctlError(f"cannot list {self.describe()}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise LabctlError(f"cannot reach S3 at {self.endpoint.url}: {type(exc).__name__}") from exc
        return found

    def load(self, listing: dict[str, str]) -> list[Run]:
        client = self.endpoint.client(retries=2, timeout=15)

        def read(key: str) -> bytes | None:
            try:
                return bytes(client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except ClientError:  # deleted between listing and reading
                return None
            except BotoCoreError as exc:  # the store went away: this build fails, the next check retries
                raise LabctlError(f"cannot read s3://{self.bucket}/{key}: {type(exc).__name__}") from exc

        return self.parsed.runs(listing, read, READ_THREADS)

    def series_names(self) -> dict[str, dict[str, Any]]:
        return {}


@dataclass
class FolderSummaries:
    """A ``site/data`` folder: ``<exp>.json`` per run, ``_series.json`` with series names."""

    path: Path
    parsed: ParsedSummaries = field(default_factory=ParsedSummaries, repr=False, compare=False)

    def describe(self) -> str:
        return str(self.path)

    def listing(self) -> dict[str, str]:
        if not self.path.is_dir():
            raise LabctlError(f"{self.path} is not a folder of summaries (site/data format)")
        return {
            str(p): f"{p.stat().st_mtime_ns}:{p.stat().st_size}"
            for p in sorted(self.path.rglob("*.json"))
            if not p.name.startswith("_")
        }

    def load(self, listing: dict[str, str]) -> list[Run]:
        def read(path: str) -> bytes | None:
            try:
                return Path(path).read_bytes()
            except FileNotFoundError:  # deleted between listing and reading
                return None

        return self.parsed.runs(listing, read)

    def series_names(self) -> dict[str, dict[str, Any]]:
        path = self.path / SERIES_FILE
        try:
            entries = json.loads(path.read_text()).get("series") or []
        except (OSError, ValueError, AttributeError):
            return {}
        return {str(e["id"]): e for e in entries if isinstance(e, dict) and e.get("id")}


def _parsed(body: bytes) -> Run | None:
    """A summary, or None for anything else that happens to be JSON (skipped, not fatal)."""
    try:
        summary = json.loads(body)
    except ValueError:
        return None
    if not isinstance(summary, dict) or not summary.get("name"):
        return None
    return Run(summary)
