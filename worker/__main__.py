"""``python -m worker``: the experiments worker — the workflow plus every integration activity.

Reads WorkerSettings from the environment, connects to Temporal with the pydantic converter (and
the payload codec when EXPERIMENT_PAYLOAD_KEY is set), registers the search attributes, serves
/healthz and /readyz, and drains on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client

from worker.app import build_worker, register_search_attributes
from worker.codec import data_converter
from worker.health import HealthServer
from worker.settings import WorkerSettings

log = logging.getLogger("worker")


def all_activities() -> list[Callable[..., Any]]:
    """The real activity implementations (imported late: they pull in the cloud clients)."""
    from activities.registry import ACTIVITIES

    return list(ACTIVITIES)


async def serve(settings: WorkerSettings) -> None:
    client = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=data_converter()
    )
    await register_search_attributes(client)
    health = HealthServer(settings.worker_health_host, settings.worker_health_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as executor:
        # Activities run blocking client calls through asyncio.to_thread: give them as many threads
        # as activities may run at once (the default pool is min(32, cores + 4) = 6 here).
        loop.set_default_executor(executor)
        worker = build_worker(
            client,
            all_activities(),
            activity_executor=executor,
            max_concurrent_activities=settings.worker_max_concurrent_activities,
        )
        async with worker:
            health.ready.set()
            log.info("worker polling %s on %s", settings.temporal_namespace, settings.temporal_address)
            await stop.wait()
            health.ready.clear()
            log.info("draining")
    health.stop()


def main() -> None:
    settings = WorkerSettings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
