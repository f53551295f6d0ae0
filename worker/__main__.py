"""``python -m worker``: the experiments worker — the workflow plus every integration activity.

Reads WorkerSettings from the environment and refuses to start when payload encryption is required
but no key is set; connects to Temporal with the pydantic converter (encrypting with the configured
keys), the SDK's metrics and, when an OTLP endpoint is set, its tracing interceptor; registers the
search attributes; serves /healthz, /readyz and /metrics; logs JSON. On SIGTERM it stops polling,
turns not-ready and lets running activities finish for ``WORKER_GRACEFUL_SHUTDOWN_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import Client

from runtime.health import HealthServer
from runtime.logs import configure
from worker.app import build_worker, register_search_attributes
from worker.codec import PayloadKeyError, data_converter
from worker.readiness import Readiness
from worker.settings import WorkerSettings
from worker.telemetry import SdkTelemetry, flush_traces, tracing_interceptors

if TYPE_CHECKING:
    from activities.registry import WorkerActivities

log = logging.getLogger("worker")
LOGGERS = ("",)  # the root logger: the worker's, activities', the SDK's and the client libraries' lines


def real_activities(settings: WorkerSettings) -> WorkerActivities:
    """The real activity implementations, configured by ``settings`` (imported late: they pull in the cloud clients)."""
    from activities.registry import WorkerActivities

    return WorkerActivities(settings)


async def serve(settings: WorkerSettings, activities: Sequence[Callable[..., Any]] | None = None) -> None:
    """Run until SIGTERM/SIGINT, then drain. ``activities`` defaults to the real ones."""
    try:
        converter = data_converter(settings)
    except PayloadKeyError as err:
        raise SystemExit(f"worker: {err}") from err
    telemetry = SdkTelemetry(settings.worker_sdk_metrics_port)
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter,
        runtime=telemetry.runtime,
        interceptors=tracing_interceptors(settings.otel_exporter_otlp_endpoint),
    )
    await register_search_attributes(client)
    readiness = Readiness(client, settings.worker_readiness_interval_seconds)
    health = HealthServer(
        settings.worker_health_host, settings.worker_health_port, lambda: (True, "ok"), readiness.check, telemetry.text
    )
    await health.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    owned = real_activities(settings) if activities is None else None
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as executor:
        # Activities run blocking client calls through asyncio.to_thread: give them as many threads
        # as activities may run at once (the default pool is min(32, cores + 4) = 6 here).
        loop.set_default_executor(executor)
        worker = build_worker(
            client,
            owned.all() if owned else activities or [],
            activity_executor=executor,
            max_concurrent_activities=settings.worker_max_concurrent_activities,
            max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
            sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.worker_sticky_queue_timeout_seconds),
            graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        )
        readiness.worker = worker
        checker = asyncio.create_task(readiness.run())
        async with worker:
            log.info("worker polling %s on %s", settings.temporal_namespace, settings.temporal_address)
            await stop.wait()
            readiness.draining = True
            log.info("draining: running activities get %.0fs to finish", settings.worker_graceful_shutdown_seconds)
        log.info("drained")
        if owned:
            await asyncio.to_thread(owned.close)  # the activities' shared watches and target clients
        checker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checker
    await health.stop()
    if settings.otel_exporter_otlp_endpoint:
        flush_traces()


def main() -> None:
    settings = WorkerSettings()
    configure(settings.log_level, LOGGERS)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
