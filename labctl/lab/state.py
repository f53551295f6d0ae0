"""Where a lab lives on disk and what it tells other tools: ports, endpoints, readiness.

Ports are chosen on the first ``lab up`` and kept, so kubeconfigs, URLs and the Temporal SQLite
history stay valid across restarts.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labctl.seaweedfs import PORT_FLAGS
from labctl.supervisor import free_port

PREFERRED_PORTS = {
    "etcd": 12379,
    "apiserver": 16443,
    "temporal": 17233,
    "temporal_ui": 18233,
    "victoria_metrics": 18428,
    "prometheus": 19090,
    "gateway_health": 18081,
    "worker_health": 18082,
    "identity": 18091,
    "codec_server": 18083,
    "s3.port": 18333,
    "results_site": 18090,
}


TEMPORAL_OFFSETS = (10, 20)
"""The Temporal CLI serves HTTP on gRPC + 10 and metrics on gRPC + 20."""


def choose_ports(memorable: bool = True, existing: dict[str, int] | None = None) -> dict[str, int]:
    """Ports for a new lab: the memorable defaults where free (the default lab), else any free port.

    Labs in other folders (tests, benchmarks) take random ports, so two labs starting at the same
    time can never answer each other's readiness probes. ``existing`` ports are kept: a lab made
    before a service was added only gets a port for the new one.
    """
    names = [*PREFERRED_PORTS, *(f for f in PORT_FLAGS if f not in PREFERRED_PORTS)]
    ports: dict[str, int] = dict(existing or {})
    taken: set[int] = set(ports.values())
    # The Temporal CLI derives its HTTP and metrics ports from the gRPC port.
    taken |= {ports["temporal"] + offset for offset in TEMPORAL_OFFSETS} if "temporal" in ports else set()
    for name in names:
        if name not in ports:
            offsets = (0, *TEMPORAL_OFFSETS) if name == "temporal" else (0,)
            ports[name] = free_port(PREFERRED_PORTS.get(name) if memorable else None, taken, offsets)
            taken |= {ports[name] + o for o in offsets}
    return ports


@dataclass
class LabState:
    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    supervisor_pid: int | None = None
    ready: bool = False
    error: str | None = None

    @property
    def path(self) -> Path:
        return self.root / "lab.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kube" / "admin.kubeconfig"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def payload_keys(self) -> str:
        """The lab's payload keys (``EXPERIMENT_PAYLOAD_KEYS``), made on first use and kept with its
        history: the lab runs encrypted, as a hub does, and its UI reads history through the codec server."""
        path = self.root / "payload-keys"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(f"lab-1:{base64.b64encode(os.urandom(32)).decode()}\n")
            path.chmod(0o600)
        return path.read_text().strip()

    def codec_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['codec_server']}"

    def endpoints(self) -> dict[str, str]:
        p = self.ports
        return {
            "Temporal UI": f"http://127.0.0.1:{p['temporal_ui']}",
            "Temporal": f"127.0.0.1:{p['temporal']}",
            "Kubernetes API": f"https://127.0.0.1:{p['apiserver']}",
            "kubeconfig": str(self.kubeconfig),
            "S3 (SeaweedFS)": f"http://127.0.0.1:{p['s3.port']}",
            "VictoriaMetrics": f"http://127.0.0.1:{p['victoria_metrics']}",
            "Prometheus": f"http://127.0.0.1:{p['prometheus']}",
            "Codec server": self.codec_endpoint(),
            "Gateway health": f"http://127.0.0.1:{p['gateway_health']}/readyz",
            "Results site": f"http://127.0.0.1:{p['results_site']}/",
            "Logs": str(self.logs),
        }

    def env(self) -> dict[str, str]:
        """What other tools need to use the lab, as environment variables."""
        p = self.ports
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{p['temporal']}",
            "TEMPORAL_UI_URL": f"http://127.0.0.1:{p['temporal_ui']}",
            "TEMPORAL_CODEC_ENDPOINT": self.codec_endpoint(),  # the temporal CLI's setting
            "S3_ENDPOINT": f"http://127.0.0.1:{p['s3.port']}",
            "S3_ACCESS_KEY": "lab-key",
            "S3_SECRET_KEY": "lab-secret",
            "AWS_ACCESS_KEY_ID": "lab-key",
            "AWS_SECRET_ACCESS_KEY": "lab-secret",
            "METRICS_URL": f"http://127.0.0.1:{p['victoria_metrics']}",
            "PROMETHEUS_URL": f"http://127.0.0.1:{p['prometheus']}",
        }

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"root": str(self.root)}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path)

    @classmethod
    def load(cls, root: Path) -> LabState | None:
        path = root / "lab.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(
            root=root,
            ports=choose_ports(False, {k: int(v) for k, v in data.get("ports", {}).items()})
            if data.get("ports")
            else {},
            supervisor_pid=data.get("supervisor_pid"),
            ready=bool(data.get("ready")),
            error=data.get("error"),
        )

    def supervisor_alive(self) -> bool:
        if not self.supervisor_pid:
            return False
        try:  # reap it if this process started it: a zombie still answers kill(pid, 0)
            if os.waitpid(self.supervisor_pid, os.WNOHANG)[0] == self.supervisor_pid:
                return False
        except ChildProcessError:
            pass
        try:
            os.kill(self.supervisor_pid, 0)
        except OSError:
            return False
        return not _is_zombie(self.supervisor_pid)


def _is_zombie(pid: int) -> bool:
    """An exited child nobody reaped yet (its parent is another process) still answers kill(pid, 0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
