"""Start a server process, wait until it answers, and always stop it.

Shared by the embedded lab and the test fixtures, so both run the servers the same way.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


_HANDED_OUT: set[int] = set()
"""Ports this process has handed out: a server is often started long after its port is chosen."""


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def below_ephemeral_range() -> int:
    """The first port the kernel hands out for outgoing connections and ``bind(0)``."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(
    preferred: int | None = None, taken: set[int] | frozenset[int] = frozenset(), offsets: tuple[int, ...] = (0,)
) -> int:
    """A free port, with ``port + offset`` free too for every offset; ``preferred`` when it is usable.

    Ports come from below the ephemeral range: a server binds its port some time after it was chosen
    (and again on every restart), and meanwhile an outgoing connection or another server's ``bind(0)``
    may take any ephemeral port (a SeaweedFS volume port and a Temporal metrics port were lost that
    way under load). A port is handed out once per process.
    """

    def usable(port: int) -> bool:
        return all(p not in taken and p not in _HANDED_OUT and port_free(p) for p in (port + o for o in offsets))

    port = preferred or 0
    if not (port and usable(port)):
        high = below_ephemeral_range() - max(offsets) - 1
        rng = random.Random()
        while not usable(port := rng.randrange(20000, high)):
            pass
    _HANDED_OUT.update(port + o for o in offsets)
    return port


@dataclass
class ServerProcess:
    """A started server; ``startup_seconds`` is measured from spawn to first healthy answer."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    startup_seconds: float = 0.0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, ready: Callable[[], bool], timeout: float = 60.0) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        began = time.monotonic()
        self.proc = subprocess.Popen(
            list(self.argv), stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; log: {self.log_path}\n{self.tail()}"
                )
            try:
                if ready():
                    self.startup_seconds = time.monotonic() - began
                    return self
            except Exception:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; log: {self.log_path}\n{self.tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, for resilience tests."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
