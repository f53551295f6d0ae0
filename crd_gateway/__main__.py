"""``python -m crd_gateway``: run the CRD gateway with settings from ``GATEWAY_*`` variables."""

from __future__ import annotations

import asyncio
import signal

from temporalio.client import Client
from temporalio.converter import DataConverter

from crd_gateway.app import Gateway
from crd_gateway.logs import LOGGERS, log
from crd_gateway.settings import GatewaySettings
from runtime.health import HealthServer
from runtime.logs import configure
from worker.codec import PayloadKeyError, data_converter


async def connect(settings: GatewaySettings, converter: DataConverter) -> Client:
    """Retry until Temporal answers: a gateway without Temporal can do nothing safely."""
    delay = 1.0
    while True:
        try:
            return await Client.connect(
                settings.temporal_address, namespace=settings.temporal_namespace, data_converter=converter
            )
        except Exception as err:
            log.warning("Temporal at %s unreachable (%s); retrying in %.0fs", settings.temporal_address, err, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def connect_while_alive(settings: GatewaySettings, converter: DataConverter) -> Client:
    """Answer probes while Temporal is unreachable: alive (no restart loop), not ready."""
    probes = HealthServer(
        settings.health_host, settings.health_port, lambda: (True, "ok"), lambda: (False, "connecting to Temporal")
    )
    await probes.start()
    try:
        return await connect(settings, converter)
    finally:
        await probes.stop()


async def main() -> None:
    settings = GatewaySettings()
    configure(settings.log_level, LOGGERS)
    try:  # before anything else: a missing required key is a crash, never an unencrypted run
        converter = data_converter(settings.payload_keys)
    except PayloadKeyError as err:
        raise SystemExit(f"crd-gateway: {err}") from err
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        gateway = Gateway(settings, await connect_while_alive(settings, converter))
        await gateway.run()
    except asyncio.CancelledError:
        log.info("shutting down")


if __name__ == "__main__":
    asyncio.run(main())
