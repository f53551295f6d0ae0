"""Plays the Grafana Alloy agents: synthetic per-pod container series while a target runs.

A target "runs" while an Application carrying the metrics-agent (chart ``alloy``) is Healthy. Every
interval it writes, for each resource of the healthy Applications of the same Experiment object (uid label) and target,
``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes`` and the two network
counters, labelled ``experiment=<alloy.extraEnv[0].value>``. The destination follows the agent's route:
the ``REMOTE_WRITE_URL`` env given through Helm parameters (transport direct), else — when the target
also runs the Tailscale operator and the metrics-egress Service — the hub VictoriaMetrics configured
for the simulator. No route, no samples (as in the original's direct transport).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import httpx

from labsim.config import EXPERIMENT_UID_LABEL, SimulatorConfig
from labsim.objects import meta

log = logging.getLogger(__name__)
EXPERIMENT_PARAM = "alloy.extraEnv[0].value"
TARGET_LABEL = "experiments.illm.io/target"


class AgentSimulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.last_write = 0.0
        self.started = time.time()
        self.http = httpx.Client(timeout=5)

    def close(self) -> None:
        self.http.close()

    def tick(self, apps: list[dict[str, Any]]) -> None:
        if time.monotonic() - self.last_write < self.config.metrics_interval:
            return
        self.last_write = time.monotonic()
        healthy = [a for a in apps if _health(a) == "Healthy" and not meta(a).get("deletionTimestamp")]
        for agent in healthy:
            params = _helm_parameters(agent, "alloy")
            if params is None:
                continue
            url = self._route(agent, params, healthy)
            if not url:
                continue
            group = [a for a in healthy if _same_target(a, agent)]
            lines = list(_samples(params.get(EXPERIMENT_PARAM, "unset"), group, time.time() - self.started))
            try:
                self.http.post(f"{url}/api/v1/import/prometheus", content="".join(lines)).raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("agent of %s: cannot write to %s: %s", meta(agent)["name"], url, exc)

    def _route(self, agent: dict[str, Any], params: dict[str, str], healthy: list[dict[str, Any]]) -> str | None:
        env = {params[k]: params.get(k.removesuffix(".name") + ".value", "") for k in params if k.endswith(".name")}
        direct = env.get("REMOTE_WRITE_URL")
        if direct:
            return direct.removesuffix("/api/v1/write")
        peers = [a for a in healthy if _same_target(a, agent)]
        has_tailscale = any(_helm_parameters(a, "tailscale-operator") is not None for a in peers)
        has_egress = any("metrics-egress" in str(s.get("path", "")) for a in peers for s in _sources(a))
        return self.config.victoria_metrics_url if has_tailscale and has_egress else None


def _samples(experiment: str, apps: list[dict[str, Any]], uptime: float) -> Any:
    stamp = round(time.time() * 1000)
    for app in apps:
        for resource in (app.get("status") or {}).get("resources") or []:
            pod, container = f"{resource['name']}-0", resource["name"]
            seed = int(hashlib.sha256(pod.encode()).hexdigest()[:6], 16)
            labels = (
                f'experiment="{experiment}",namespace="{resource.get("namespace", "")}",'
                f'pod="{pod}",container="{container}",node="labsim-node"'
            )
            cores = 0.05 + (seed % 40) / 100
            yield f"container_cpu_usage_seconds_total{{{labels}}} {cores * uptime:.3f} {stamp}\n"
            yield f"container_memory_working_set_bytes{{{labels}}} {(64 + seed % 192) * 2**20} {stamp}\n"
            yield f"container_network_receive_bytes_total{{{labels}}} {(1000 + seed % 5000) * uptime:.0f} {stamp}\n"
            yield f"container_network_transmit_bytes_total{{{labels}}} {(500 + seed % 3000) * uptime:.0f} {stamp}\n"


def _health(app: dict[str, Any]) -> str | None:
    return ((app.get("status") or {}).get("health") or {}).get("status")


def _sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    spec = app.get("spec") or {}
    return list(spec.get("sources") or [spec.get("source") or {}])


def _helm_parameters(app: dict[str, Any], chart: str) -> dict[str, str] | None:
    for source in _sources(app):
        if source.get("chart") == chart:
            params = (source.get("helm") or {}).get("parameters") or []
            return {str(p["name"]): str(p.get("value", "")) for p in params}
    return None


def _same_target(a: dict[str, Any], b: dict[str, Any]) -> bool:
    la, lb = meta(a).get("labels") or {}, meta(b).get("labels") or {}
    return all(la.get(k) == lb.get(k) for k in (EXPERIMENT_UID_LABEL, TARGET_LABEL))
