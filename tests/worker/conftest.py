"""Real processes for the worker's operability: `python -m worker`, `python -m worker.codec_server`,
and Temporal dev servers (with their UI) started the way the lab starts them."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from labctl.servers import start_temporal
from tests.fixtures.process import BINARIES, ServerProcess, free_port

REPO = Path(__file__).resolve().parents[2]


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=1).status_code == 200


def python_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXPERIMENT_PAYLOAD", "CODEC_SERVER", "WORKER_"))}
    return env | {"PYTHONPATH": str(REPO)} | extra


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@dataclass
class Temporal:
    process: ServerProcess
    port: int
    ui_port: int
    db: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def restart(self, log_path: Path) -> None:
        """Same ports, same SQLite history: what a Temporal outage looks like to its clients."""
        self.process.stop()
        self.process = start_temporal(BINARIES, self.db, self.port, self.ui_port, log_path)


def start_dev_server(root: Path, codec_endpoint: str | None = None) -> Temporal:
    port, ui_port = free_port(), free_port()
    db = root / "temporal.db"
    process = start_temporal(BINARIES, db, port, ui_port, root / "temporal.log", codec_endpoint=codec_endpoint)
    return Temporal(process, port, ui_port, db)


@pytest.fixture
def temporal_server(tmp_path: Path) -> Iterator[Temporal]:
    """A dev server of this test's own (tests here stop it or depend on who polls it)."""
    server = start_dev_server(tmp_path)
    yield server
    server.process.stop()
