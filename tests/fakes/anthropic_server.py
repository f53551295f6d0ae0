"""A local server speaking the Anthropic Messages API (``POST /v1/messages``) for the analyzer's passes.

It answers each pass (named by the ``PASS: <name>`` line the analyzer puts in its prompt) with a JSON
text matching that pass' model and records every request. Like the real API it takes its time: each
call lasts ``latency`` seconds (times ``time_scale``), spread over the text deltas of a stream
(``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``…, ``content_block_stop``,
``message_delta``, ``message_stop``) or spent before a non-streamed answer. It can be told to fail the
next calls with 429 ``rate_limit_error`` (with ``retry-after``), 529 ``overloaded_error`` or 500, to send
an ``overloaded_error`` event in the middle of a stream, or to answer a pass with text that is not JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from tests.fakes.http import LoopbackServer, Request, Response, Stream

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
    def __init__(
        self, api_key: str = "sk-test", latency: float = 0.0, time_scale: float = 1.0, retry_after: float = 20.0
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self.time_scale = time_scale
        self.retry_after = retry_after
        """Seconds a 429 asks the client to wait (before ``time_scale``; the header is whole seconds)."""
        self.failures: list[int] = []
        self.overload_midstream = 0
        """How many of the next streams end with an ``overloaded_error`` event after their first delta."""
        self.invalid_passes: set[str] = set()
        self.calls: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._closed = threading.Event()
        self._server = LoopbackServer(self.handle)
        self.url = self._server.url

    def __enter__(self) -> FakeAnthropic:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
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
        call = {"pass": name, "model": body.get("model"), "max_tokens": body.get("max_tokens"), "finished": False}
        call |= {"stream": bool(body.get("stream")), "at": time.monotonic()}
        self.calls.append(call)
        if self.failures:
            status = self.failures.pop(0)
            headers = {"retry-after": str(math.ceil(self.retry_after * self.time_scale))} if status == 429 else {}
            return status, _error(status, _ERRORS.get(status, "api_error")), headers | _request_id(len(self.calls))
        answer = "Sure! {not json" if name in self.invalid_passes else f"```json\n{json.dumps(PASS_ANSWERS[name])}\n```"
        message = _message(next(self._ids), body.get("model", ""), answer)
        if call["stream"]:
            overload, self.overload_midstream = self.overload_midstream > 0, max(0, self.overload_midstream - 1)
            events = self._events(call, message, answer, overload)
            return 200, Stream(events), {"Content-Type": "text/event-stream"} | _request_id(len(self.calls))
        if self._closed.wait(self.latency * self.time_scale):
            return 503, None, {}
        call["finished"] = True
        return 200, message, _request_id(len(self.calls))

    def _events(self, call: dict[str, Any], message: dict[str, Any], answer: str, overload: bool) -> Iterator[bytes]:
        """The real stream's event sequence, its text deltas spread evenly over the call's latency."""
        pieces = [answer[i : i + 40] for i in range(0, len(answer), 40)] or [""]
        pause = self.latency * self.time_scale / len(pieces)
        start = message | {"content": [], "stop_reason": None, "usage": {"input_tokens": 100, "output_tokens": 1}}
        yield _sse("message_start", {"type": "message_start", "message": start})
        block: dict[str, Any] = {"type": "text", "text": ""}
        yield _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        yield _sse("ping", {"type": "ping"})
        for piece in pieces:
            if self._closed.wait(pause):
                return
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            yield _sse("content_block_delta", delta)
            if overload:
                yield _sse("error", _error(529, "overloaded_error"))
                return
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
        yield _sse("message_delta", delta | {"usage": {"output_tokens": 50}})
        yield _sse("message_stop", {"type": "message_stop"})
        call["finished"] = True


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _request_id(n: int) -> dict[str, str]:
    return {"request-id": f"req_{n:08d}"}


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
