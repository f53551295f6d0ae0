"""/healthz, /readyz and /metrics on one small HTTP/1.1 server (asyncio streams, no framework).

The worker and the CRD gateway serve their probes here; each passes its own checks:

- gateway /healthz: the process serves requests and, while leading, its watch threads are alive;
  /readyz: Temporal is connected and this replica is either leading with every watch synced, or a
  standby follower (a follower is ready: it takes over without a restart).
- worker /healthz: the process serves requests; /readyz: connected and seen polling (worker/readiness.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], tuple[bool, str]]
MetricsSource = Callable[[], Awaitable[bytes]]


class HealthServer:
    """/metrics is the process's prometheus_client registry plus ``extra_metrics`` (the worker's SDK metrics)."""

    def __init__(
        self, host: str, port: int, healthz: Check, readyz: Check, extra_metrics: MetricsSource | None = None
    ) -> None:
        self.host, self.port = host, port
        self._checks = {"/healthz": healthz, "/readyz": readyz}
        self._extra_metrics = extra_metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
            code, content_type, body = await self._respond(path)
            head = (
                f"HTTP/1.1 {code}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _respond(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            extra = await self._extra_metrics() if self._extra_metrics else b""
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest() + extra
        check = self._checks.get(path)
        if check is None:
            return "404 Not Found", "text/plain", b"not found\n"
        ok, detail = check()
        return ("200 OK" if ok else "503 Service Unavailable"), "text/plain", f"{detail}\n".encode()
