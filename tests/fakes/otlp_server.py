"""An OTLP/HTTP trace receiver (what an OpenTelemetry Collector or Tempo serves on :4318): it accepts
``POST /v1/traces`` with a protobuf ``ExportTraceServiceRequest`` (gzip or not), answers as the
collector does, and keeps the spans' names and service names for assertions."""

from __future__ import annotations

import gzip
from types import TracebackType

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.fakes.http import LoopbackServer, Request, Response


class OtlpTraceReceiver:
    def __init__(self) -> None:
        self.spans: list[tuple[str, str]] = []
        """(service.name, span name) of every span received."""
        self._server = LoopbackServer(self._handle)
        self.url = self._server.url

    def _handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/traces":
            return 404, None, {}
        if request.headers.get("content-type") != "application/x-protobuf":
            return 415, None, {}
        body = gzip.decompress(request.body) if request.headers.get("content-encoding") == "gzip" else request.body
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                self.spans += [(attributes.get("service.name", ""), span.name) for span in scope.spans]
        answer = ExportTraceServiceResponse().SerializeToString()
        return 200, answer, {"Content-Type": "application/x-protobuf"}

    def __enter__(self) -> OtlpTraceReceiver:
        self._server.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.__exit__(kind, error, trace)
