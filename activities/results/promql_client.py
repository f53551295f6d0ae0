"""A small PromQL HTTP client (Prometheus and VictoriaMetrics speak the same query API).

Every request has a timeout and a bounded number of attempts (the original's hub queries had neither,
seed bug 28), and a semaphore bounds how many queries one endpoint sees at once, so an experiment with
36 queries does not hammer a small target Prometheus. Samples that are NaN or ±Inf are dropped: they
cannot be charted, averaged or written as JSON.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from activities.results.metrics_snapshot import DataPoint, QueryResult, TimeWindow
from api.experiment import MetricType

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ResolvedQuery:
    """A query with its variables substituted, ready to send."""

    name: str
    promql: str
    type: MetricType
    unit: str | None = None
    description: str | None = None


class PromQLError(Exception):
    """The endpoint answered, but not with a successful Prometheus response."""


class PromQLClient:
    """Queries one endpoint (``base_url`` ends before ``/api/v1``) through a caller-owned ``AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        timeout: float,
        attempts: int,
        parallelism: int,
        retry_delay: float = 0.5,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._slots = asyncio.Semaphore(parallelism)

    async def probe(self, timeout: float) -> bool:
        """True when the endpoint is a working Prometheus API (``/api/v1/status/buildinfo`` says success)."""
        try:
            response = await self._http.get(f"{self._base}/api/v1/status/buildinfo", timeout=timeout)
            return response.status_code == 200 and response.json().get("status") == "success"
        except (httpx.HTTPError, ValueError):
            return False

    async def run_all(
        self, queries: Iterable[ResolvedQuery], window: TimeWindow, source: str
    ) -> dict[str, QueryResult]:
        """Run every query concurrently (bounded); each failure is recorded on its own query, never raised."""
        items = list(queries)
        results = await asyncio.gather(*(self.run(q, window, source) for q in items))
        return {q.name: r for q, r in zip(items, results, strict=True)}

    async def run(self, query: ResolvedQuery, window: TimeWindow, source: str) -> QueryResult:
        result = QueryResult(
            query=query.promql, type=query.type, unit=query.unit, description=query.description, source=source
        )
        if query.type == MetricType.RANGE:
            path = "/api/v1/query_range"
            params = {
                "query": query.promql,
                "start": _unix(window.start),
                "end": _unix(window.end),
                "step": f"{window.step_seconds}s",
            }
        else:
            path, params = "/api/v1/query", {"query": query.promql, "time": _unix(window.end)}
        try:
            async with self._slots:
                payload = await self._get(path, params)
            result.data = list(_points(payload))
        except (PromQLError, httpx.HTTPError) as err:
            result.error = f"{type(err).__name__}: {err}" if not isinstance(err, PromQLError) else str(err)
        return result

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.get(f"{self._base}{path}", params=params, timeout=self._timeout)
            except httpx.TransportError:
                if attempt == self._attempts:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt == self._attempts:
                    return _decode(response)
            await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as err:
        raise PromQLError(f"HTTP {response.status_code}: not JSON: {response.text[:200]}") from err
    if response.status_code != 200 or body.get("status") != "success":
        detail = body.get("error") or body.get("errorType") or response.text[:200]
        raise PromQLError(f"HTTP {response.status_code}: {detail}")
    data: dict[str, Any] = body.get("data") or {}
    return data


def _points(data: dict[str, Any]) -> Iterable[DataPoint]:
    """Flatten vectors, matrices and scalars into points; non-finite samples are skipped."""
    result_type, result = data.get("resultType"), data.get("result")
    if result_type in ("scalar", "string"):
        samples: list[tuple[dict[str, str], list[Any]]] = [({}, result)] if result else []
    else:
        samples = []
        for series in result or []:
            labels = dict(series.get("metric") or {})
            if "value" in series:
                samples.append((labels, series["value"]))
            samples.extend((labels, pair) for pair in series.get("values") or [])
    for labels, (at, text) in samples:
        try:
            value = float(text)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            yield DataPoint(labels=labels or None, timestamp=datetime.fromtimestamp(float(at), UTC), value=value)


def _unix(at: datetime) -> str:
    return f"{at.timestamp():.3f}"
