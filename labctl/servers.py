"""Launchers for the single-binary servers of the lab: VictoriaMetrics, Prometheus, Temporal.

Each returns a started :class:`ServerProcess` on the given loopback port; the embedded lab and the
test fixtures start them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeKey

from labctl.settings import ServerBinaries
from labctl.supervisor import ServerProcess
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 15s
scrape_configs: []
storage:
  tsdb:
    out_of_order_time_window: 30d  # remote-written samples may be older than the newest one
"""


def _cli_type(key: SearchAttributeKey[Any]) -> str:
    """``INDEXED_VALUE_TYPE_KEYWORD_LIST`` → ``KeywordList``, as ``temporal server start-dev`` spells it."""
    name = IndexedValueType.Name(IndexedValueType.ValueType(int(key.indexed_value_type)))
    name = name.removeprefix("INDEXED_VALUE_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=1).status_code == 200


def start_victoria_metrics(binaries: ServerBinaries, data_dir: Path, port: int, log_path: Path) -> ServerProcess:
    argv = [
        binaries.find("victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={data_dir}",
        "-retentionPeriod=100y",  # accept samples from any year a test or a replay picks
        "-search.latencyOffset=0s",  # show just-imported recent points
        "-search.disableCache",  # a cached range would hide samples imported into it later
    ]
    return ServerProcess("VictoriaMetrics", argv, log_path).start(lambda: _http_ok(f"http://127.0.0.1:{port}/health"))


def start_prometheus(binaries: ServerBinaries, root: Path, port: int, log_path: Path) -> ServerProcess:
    """Prometheus with remote write on; TSDB blocks already in ``root/data`` are loaded at start."""
    config = root / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG)
    argv = [
        binaries.find("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'data'}",
        "--storage.tsdb.retention.time=100y",  # the default 15d would delete seeded history
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-remote-write-receiver",
    ]
    return ServerProcess("Prometheus", argv, log_path).start(lambda: _http_ok(f"http://127.0.0.1:{port}/-/ready"))


def start_temporal(
    binaries: ServerBinaries, db_file: Path, port: int, ui_port: int, log_path: Path, codec_endpoint: str | None = None
) -> ServerProcess:
    """The Temporal dev server with its UI; the SQLite file keeps history across restarts. With a
    ``codec_endpoint`` the UI decodes payloads through that codec server (worker/codec_server.py).

    The file is in WAL mode with ``synchronous=NORMAL`` (the CLI's default is a rollback journal and
    FULL, an fsync per commit): a commit survives a crash of the server process, which is what the
    lab's restarts and the soak need; only a crash of the machine may lose the last commits, and
    the database stays consistent either way."""
    db_file.parent.mkdir(parents=True, exist_ok=True)
    ports = {"--port": port, "--ui-port": ui_port, "--http-port": port + 10, "--metrics-port": port + 20}
    argv = [
        binaries.find("temporal"),
        "server",
        "start-dev",
        "--ip=127.0.0.1",
        "--ui-ip=127.0.0.1",
        f"--db-filename={db_file}",
        *("--sqlite-pragma=journal_mode=wal", "--sqlite-pragma=synchronous=normal"),
        "--ui-disable-news-fetch",
        "--log-level=warn",
        *(f"{flag}={value}" for flag, value in ports.items()),
        *([f"--ui-codec-endpoint={codec_endpoint}"] if codec_endpoint else []),
        *(arg for key in SEARCH_ATTRIBUTES for arg in ("--search-attribute", f"{key.name}={_cli_type(key)}")),
    ]
    return ServerProcess("Temporal", argv, log_path).start(
        lambda: _http_ok(f"http://127.0.0.1:{ui_port}/api/v1/namespaces"), timeout=60
    )
