"""Plays the Grafana Alloy agents: synthetic per-pod container series while a target runs.

A target "runs" while an Application carrying the metrics-agent (chart ``alloy``) is Healthy. Every
interval it writes, for each resource of the healthy Applications of the same Experiment object (uid label) and target,
``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes`` and the two network
counters, labelled with the agent's ``EXPERIMENT_NAME``. The destination is the remote-write URL of
the agent's rendered Alloy configuration (:mod:`labsim.alloy`: the repository's values plus the
Application's Helm parameters). The metrics-egress Service's address reaches the hub VictoriaMetrics
configured for the simulator only when the target also runs the Tailscale operator and that Service;
any other URL is written to as it is. No route, no samples.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from labsim import alloy
from labsim.config import EXPERIMENT_UID_LABEL, SimulatorConfig
from labsim.objects import meta

log = logging.getLogger(__name__)
EGRESS_HOST = "vm-hub.observability.svc"
"""The metrics-egress Service (components/observability/metrics-egress) as the target's DNS names it."""
TARGET_LABEL = "experiments.illm.io/target"


class AgentSimulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.next_write = 0.0
        """monotonic time of the next write (:meth:`tick` is due then)"""
        self.started = time.time()
        self.http = httpx.Client(timeout=5)

    def close(self) -> None:
        self.http.close()

    def tick(self, apps: list[dict[str, Any]]) -> None:
        """Write every running agent's samples (the Applications as they are now); due again in an interval."""
        self.next_write = time.monotonic() + self.config.metrics_interval
        healthy = [a for a in apps if _health(a) == "Healthy" and not meta(a).get("deletionTimestamp")]
        targets: dict[tuple[str | None, ...], list[dict[str, Any]]] = {}
        for app in healthy:
            targets.setdefault(_target_of(app), []).append(app)
        for agent in healthy:
            source = _chart_source(agent, "alloy")
            if source is None:
                continue
            try:
                rendered = _configuration(source)
            except (OSError, ValueError, TypeError) as exc:
                log.warning("agent of %s: cannot render its Alloy configuration: %s", meta(agent)["name"], exc)
                continue
            group = targets[_target_of(agent)]
            urls = [u for u in (self._route(url, group) for url in rendered.remote_write_urls) if u]
            experiment = rendered.env.get("EXPERIMENT_NAME", "unset")
            lines = "".join(_samples(experiment, group, time.time() - self.started))
            for url in urls:
                try:
                    self.http.post(f"{url}/api/v1/import/prometheus", content=lines).raise_for_status()
                except httpx.HTTPError as exc:
                    log.warning("agent of %s: cannot write to %s: %s", meta(agent)["name"], url, exc)

    def _route(self, url: str, peers: list[dict[str, Any]]) -> str | None:
        """Where a write to ``url`` from the agent's cluster (``peers``: the healthy Applications of its
        target) lands (the VictoriaMetrics base URL), if anywhere."""
        if urlsplit(url).hostname != EGRESS_HOST:
            return url.removesuffix("/api/v1/write") or None
        has_tailscale = any(_chart_source(a, "tailscale-operator") is not None for a in peers)
        has_egress = any("metrics-egress" in str(s.get("path", "")) for a in peers for s in _sources(a))
        return self.config.victoria_metrics_url if has_tailscale and has_egress else None


def _configuration(source: dict[str, Any]) -> alloy.AlloyAgent:
    """The agent's Alloy configuration, rendered again only when its source or a values file changes
    (a file's modification time): rendering (YAML) every interval was most of the simulator's work."""
    stamps = tuple(path.stat().st_mtime_ns for path in alloy.value_files(source))
    return _rendered(json.dumps(source, sort_keys=True), stamps)


@functools.lru_cache(maxsize=512)
def _rendered(source: str, stamps: tuple[int, ...]) -> alloy.AlloyAgent:
    """``stamps``: the values files' versions, part of the cache key."""
    return alloy.render(json.loads(source))


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


def _chart_source(app: dict[str, Any], chart: str) -> dict[str, Any] | None:
    return next((s for s in _sources(app) if s.get("chart") == chart), None)


def _target_of(app: dict[str, Any]) -> tuple[str | None, ...]:
    """Which Experiment object and target an Application belongs to (the same for an agent and its peers)."""
    labels = meta(app).get("labels") or {}
    return tuple(labels.get(k) for k in (EXPERIMENT_UID_LABEL, TARGET_LABEL))
