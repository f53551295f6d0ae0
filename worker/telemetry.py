"""What the worker tells operators: Temporal SDK metrics on /metrics, optional OpenTelemetry traces.

The SDK's core exports Prometheus text on a loopback-only port of its own; /metrics (one port per
process, the one the NetworkPolicy and the scrape objects open) appends that text to the process's
prometheus-client metrics, so one scrape sees both. Durations are in seconds, as Prometheus expects.
Traces are on only when an OTLP endpoint is set: the SDK's TracingInterceptor then spans every
workflow start, workflow task and activity, exported over OTLP/HTTP.
"""

from __future__ import annotations

import logging
import socket

import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

SERVICE_NAME = "experiment-worker"


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SdkTelemetry:
    """A Temporal Runtime whose metrics this process serves on its own /metrics and whose core logs go
    through Python logging (``temporalio.core``), so they come out as JSON like every other line."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_loopback_port()
        self.runtime = Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
                ),
                metrics=PrometheusConfig(bind_address=f"127.0.0.1:{self.port}", durations_as_seconds=True),
                global_tags={"service": SERVICE_NAME},
            )
        )

    async def text(self) -> bytes:
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                answer = await http.get(f"http://127.0.0.1:{self.port}/metrics")
            answer.raise_for_status()
        except httpx.HTTPError as err:  # a scrape must still get the process's own metrics
            return f"# Temporal SDK metrics unavailable: {type(err).__name__}\n".encode()
        return answer.content


def tracing_interceptors(otlp_endpoint: str | None) -> list[TracingInterceptor]:
    """The SDK's TracingInterceptor exporting to ``otlp_endpoint`` (OTLP/HTTP base URL); none when unset."""
    if not otlp_endpoint:
        return []
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces", timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    # Workflows are started by the gateway, which does not trace: without this no workflow span exists.
    return [TracingInterceptor(provider.get_tracer("temporalio"), always_create_workflow_spans=True)]


def flush_traces() -> None:
    """Export the spans still buffered (on shutdown: the last activity's span must not be lost)."""
    shutdown = getattr(trace.get_tracer_provider(), "shutdown", None)
    if shutdown is not None:
        shutdown()
