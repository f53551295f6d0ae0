"""A local server speaking the Anthropic Messages API (``POST /v1/messages``) for the analyzer's passes.

It answers each pass (named by the ``PASS: <name>`` line the analyzer puts in its prompt) with a JSON
text matching that pass' model, records every request, and can be told to fail the next calls with
429 (rate limit) or 529 (overloaded), or to answer a pass with text that is not valid JSON.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from tests.fakes.http import LoopbackServer, Request, Response

PASS_ANSWERS: dict[str, dict[str, Any]] = {
    "pass_1_plan": {
        "technologies": ["envoy", "nginx"],
        "isComparison": True,
        "focusAreas": ["latency"],
        "domainContext": "API gateways",
        "domain": "networking",
    },
    "pass_2_core": {
        "hypothesisVerdict": "validated",
        "abstract": "Envoy sustained 120 req/s at 0.2 s p99, ahead of the load generator's view.",
        "targetAnalysis": {"overview": "two targets", "perTarget": {"app": "fast", "loadgen": "slower"}},
        "performanceAnalysis": {"overview": "ok", "findings": ["p99 stayed under 0.5 s"], "bottlenecks": []},
        "metricInsights": {"request_rate": "steady"},
        "architectureDiagram": "flowchart TD\n  A[loadgen] --> B[gateway]",
        "glossary": [{"term": "p99", "definition": "99th percentile latency"}],
    },
    "pass_3_finops_secops": {
        "finopsAnalysis": {"overview": "cheap", "costDrivers": ["nodes"], "optimizations": ["spot"]},
        "secopsAnalysis": {"overview": "n/a", "findings": []},
    },
    "pass_4_capabilities": {"feedback": {"recommendations": ["run longer"], "experimentDesign": []}},
    "pass_5_body_synthesis": {"body": {"blocks": [{"type": "text", "content": "Summary"}]}},
}
_ERRORS = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error", 401: "authentication_error"}


class FakeAnthropic:
    def __init__(self, api_key: str = "sk-test") -> None:
        self.api_key = api_key
        self.failures: list[int] = []
        self.invalid_passes: set[str] = set()
        self.calls: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._server = LoopbackServer(self.handle)
        self.url = self._server.url

    def __enter__(self) -> FakeAnthropic:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def passes_called(self) -> list[str]:
        return [c["pass"] for c in self.calls]

    def handle(self, req: Request) -> Response:
        if req.method != "POST" or req.path != "/v1/messages":
            return 404, _error(404, "not_found_error"), {}
        auth = req.headers.get("x-api-key") or req.headers.get("authorization", "").removeprefix("Bearer ")
        if auth != self.api_key:
            return 401, _error(401, "authentication_error"), {}
        body = req.json()
        text = "".join(
            part.get("text", "") if isinstance(part, dict) else str(part)
            for m in body["messages"]
            for part in (m["content"] if isinstance(m["content"], list) else [{"text": m["content"]}])
        )
        found = re.search(r"PASS: (\w+)", text)
        name = found.group(1) if found else "unknown"
        self.calls.append({"pass": name, "model": body.get("model"), "max_tokens": body.get("max_tokens")})
        if self.failures:
            status = self.failures.pop(0)
            return status, _error(status, _ERRORS.get(status, "api_error")), {}
        answer = "Sure! {not json" if name in self.invalid_passes else f"```json\n{json.dumps(PASS_ANSWERS[name])}\n```"
        return 200, _message(next(self._ids), body.get("model", ""), answer), {}


def _error(status: int, kind: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": f"fake {status}"}}


def _message(n: int, model: str, text: str) -> dict[str, Any]:
    return {
        "id": f"msg_{n:04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50},
    }
