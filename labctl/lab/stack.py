"""The processes of the embedded lab, started in dependency order and stopped in reverse.

kube-apiserver + etcd (+ controller manager) with our CRDs and the simulator's CRDs, the hub's
namespaces, Components and WorkflowTemplates; Temporal with its UI (SQLite under the lab folder, so
history survives restarts); SeaweedFS; VictoriaMetrics; Prometheus; the lab controllers that play
Crossplane/ArgoCD/Argo Workflows; the codec server the UI decodes history with; the worker; the
CRD gateway; the results site (``labctl site serve``, rebuilt when a summary lands). Payloads are
encrypted with a key kept in the lab folder.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.names import (
    ANALYZER_NAMESPACE,
    ARGO_WORKFLOWS_NAMESPACE,
    ARGOCD_NAMESPACE,
    CLAIM_NAMESPACE,
    CONNECTION_NAMESPACE,
)
from labctl import kube
from labctl.controlplane import ControlPlane, assets_dir, install_crds
from labctl.lab.state import LabState
from labctl.seaweedfs import PORT_FLAGS, SeaweedFS
from labctl.servers import start_prometheus, start_temporal, start_victoria_metrics
from labctl.settings import ServerBinaries
from labctl.supervisor import ServerProcess
from labsim.identity import cloud_identity_env
from runtime.kube import ClusterChoice

REPO = Path(__file__).resolve().parents[2]
SITE_CHECK_SECONDS = 2.0
"""How often the lab's results site looks for new summaries (one S3 listing)."""
HUB_NAMESPACES = (CLAIM_NAMESPACE, CONNECTION_NAMESPACE, ARGOCD_NAMESPACE, ARGO_WORKFLOWS_NAMESPACE, ANALYZER_NAMESPACE)


ARGOCD_PROJECTS = REPO / "deploy" / "base" / "argocd-projects.yaml"
"""The AppProjects the worker's Applications name; labsim checks destinations against them as ArgoCD does."""


def crd_files() -> list[Path]:
    return sorted((REPO / "deploy" / "crds").glob("*.yaml")) + sorted((REPO / "labsim" / "crds").glob("*.yaml"))


def catalog_files() -> list[Path]:
    """Components and WorkflowTemplates the hub serves (the original left both to `kubectl apply`)."""
    components = sorted((REPO / "components").glob("**/component.yaml"))
    templates = sorted((REPO / "experiments").glob("*/workflow/template.yaml"))
    return components + templates


@dataclass
class LabStack:
    state: LabState
    binaries: ServerBinaries
    time_scale: float = 1.0
    say: Callable[[str], None] = print
    labsim_args: list[str] = field(default_factory=list)
    """Extra ``python -m labsim`` flags (e.g. ``--provision-delay 0``), appended after the defaults."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Added to the Python services' environment (tests point the worker at local GitHub/Claude fakes)."""
    audit: bool = False
    """Have the API server write an audit log (``kube/audit.log``) for ``bench.scale --audit``."""
    processes: dict[str, ServerProcess] = field(default_factory=dict)
    """The started processes by name, for resilience tests that kill or restart one."""
    control_plane: ControlPlane | None = None
    seaweedfs: SeaweedFS | None = None
    _stoppers: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def start(self) -> None:
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._stoppers:
            name, stop = self._stoppers.pop()
            began = time.monotonic()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                self.say(f"  {name}: stop failed: {exc}")
            self.say(f"  {name:<24} stopped in {time.monotonic() - began:.1f} s")

    def _started(self, name: str, stop: Callable[[], None], seconds: float) -> None:
        self._stoppers.append((name, stop))
        self.say(f"  {name:<24} ready in {seconds:.1f} s")

    def _start_all(self) -> None:
        s, p, logs = self.state, self.state.ports, self.state.logs
        plane = self.control_plane = ControlPlane(
            s.root / "kube",
            assets_dir(self.binaries),
            etcd_port=p["etcd"],
            apiserver_port=p["apiserver"],
            token_webhook_url=f"http://127.0.0.1:{p['identity']}/tokenreview",
            audit_log=s.root / "kube" / "audit.log" if self.audit else None,
        ).start()
        self._started("kubernetes", plane.stop, sum(plane.startup_seconds().values()))
        install_crds(plane.kubeconfig_path, crd_files())
        self._seed_hub()
        temporal = start_temporal(
            self.binaries,
            s.root / "temporal" / "temporal.db",
            p["temporal"],
            p["temporal_ui"],
            logs / "temporal.log",
            codec_endpoint=s.codec_endpoint(),
        )
        self.processes["temporal"] = temporal
        self._started("temporal", temporal.stop, temporal.startup_seconds)
        seaweed = self.seaweedfs = SeaweedFS(
            s.root / "seaweedfs", logs / "seaweedfs.log", self.binaries, ports={f: p[f] for f in PORT_FLAGS}
        )
        seaweed.data_dir.mkdir(parents=True, exist_ok=True)
        self._started("seaweedfs", seaweed.stop, seaweed.start())
        vm = start_victoria_metrics(
            self.binaries, s.root / "victoria-metrics", p["victoria_metrics"], logs / "victoria-metrics.log"
        )
        self._started("victoria-metrics", vm.stop, vm.startup_seconds)
        prom_root = s.root / "prometheus"
        prom_root.mkdir(parents=True, exist_ok=True)
        prom = start_prometheus(self.binaries, prom_root, p["prometheus"], logs / "prometheus.log")
        self._started("prometheus", prom.stop, prom.startup_seconds)
        for name, module, args, ready in self._python_services():
            proc = ServerProcess(name, [sys.executable, "-m", module, *args], logs / f"{name}.log", env=self._env())
            self.processes[name] = proc.start(ready, timeout=60)
            self._started(name, proc.stop, proc.startup_seconds)

    def _seed_hub(self) -> None:
        api = kube.connect(ClusterChoice(explicit=str(self.state.kubeconfig)))
        namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in HUB_NAMESPACES]
        kube.apply(api, namespaces)
        kube.apply(api, kube.load_documents(catalog_files()))
        kube.apply(api, kube.load_documents([ARGOCD_PROJECTS]))

    def _env(self) -> dict[str, str]:
        p = self.state.ports
        # The servers' environment, not configuration read here: ours (PATH, HOME, …) plus the lab's.
        env = dict(os.environ) | self.state.env()
        env |= {
            "PYTHONPATH": str(REPO),
            "HUB_KUBECONFIG": str(self.state.kubeconfig),
            "GATEWAY_KUBECONFIG": str(self.state.kubeconfig),
            "GATEWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{p['temporal']}",
            "GATEWAY_TEMPORAL_UI_URL": f"http://127.0.0.1:{p['temporal_ui']}",
            "GATEWAY_HEALTH_PORT": str(p["gateway_health"]),
            "WORKER_HEALTH_PORT": str(p["worker_health"]),
            "WORKER_HEALTH_HOST": "127.0.0.1",
            "GATEWAY_HEALTH_HOST": "127.0.0.1",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{p['temporal']}",
            "METRICS_DIRECT_WRITE_URL": f"http://127.0.0.1:{p['victoria_metrics']}/api/v1/write",
            # Encrypted like a hub: no service may start without the key, and the UI decodes through
            # the codec server, which it calls from the browser (hence CORS for the UI's origins).
            "EXPERIMENT_PAYLOAD_KEYS": self.state.payload_keys(),
            "EXPERIMENT_PAYLOAD_ENCRYPTION_REQUIRED": "true",
            "CODEC_SERVER_HOST": "127.0.0.1",
            "CODEC_SERVER_PORT": str(p["codec_server"]),
            "CODEC_SERVER_ALLOWED_ORIGINS": f"http://127.0.0.1:{p['temporal_ui']},http://localhost:{p['temporal_ui']}",
            "LOG_LEVEL": "INFO",
            **cloud_identity_env(p["identity"], self.state.root / "cloud-config"),
        }
        return env | self.extra_env

    def _python_services(self) -> list[tuple[str, str, list[str], Callable[[], bool]]]:
        p = self.state.ports
        kubeconfig = str(self.state.kubeconfig)
        vm = f"http://127.0.0.1:{p['victoria_metrics']}"
        return [
            (
                "lab-controllers",
                "labsim",
                [
                    *("--kubeconfig", kubeconfig, "--victoria-metrics", vm, "--time-scale", str(self.time_scale)),
                    *("--identity-port", str(p["identity"])),
                    *self.labsim_args,
                ],
                lambda: True,
            ),
            ("codec-server", "worker.codec_server", [], _http_ready(f"{self.state.codec_endpoint()}/healthz")),
            ("worker", "worker", [], _http_ready(f"http://127.0.0.1:{p['worker_health']}/readyz")),
            ("crd-gateway", "crd_gateway", [], _http_ready(f"http://127.0.0.1:{p['gateway_health']}/readyz")),
            (
                "results-site",
                "labctl",
                [
                    *("site", "serve", "--out", str(self.state.root / "site"), "--host", "127.0.0.1"),
                    *("--port", str(p["results_site"]), "--interval", str(SITE_CHECK_SECONDS)),
                ],
                _http_ready(f"http://127.0.0.1:{p['results_site']}/index.html"),
            ),
        ]


def _http_ready(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=1).status_code == 200
