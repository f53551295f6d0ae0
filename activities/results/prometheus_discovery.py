"""Finding a Prometheus-compatible server on a target cluster, reached through its API server's service proxy.

The hub cannot route to pods on a remote cluster, but it can reach the API server, which proxies to any
Service (``/api/v1/namespaces/<ns>/services/<svc>:<port>/proxy/...``). Discovery order, name matching and
ports are the original's (seed §3.4), so the same Helm releases are found.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from activities.kube import load_yaml
from activities.results.promql_client import PromQLClient
from activities.tls import default_tls, kubeconfig_tls

if TYPE_CHECKING:
    from activities.settings import ResultsSettings

DISCOVERY_NAMESPACES = (
    "{workloads}",
    "monitoring",
    "observability",
    "kube-prometheus-stack",
    "victoria-metrics",
    "mimir",
    "default",
)
_NOT_PROMETHEUS = ("operator", "alertmanager", "node-exporter", "grafana", "kube-state-metrics")


@dataclass(frozen=True)
class PrometheusEndpoint:
    url: str
    source: str


@dataclass
class TargetAccess:
    """API server URL and credentials from a kubeconfig (its current context)."""

    server: str
    headers: dict[str, str] = field(default_factory=dict)
    ca_pem: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = None
    insecure: bool = False

    @classmethod
    def from_kubeconfig(cls, text: str) -> TargetAccess:
        doc: dict[str, Any] = load_yaml(text)
        contexts = {c["name"]: c["context"] for c in doc.get("contexts") or []}
        context = contexts.get(doc.get("current-context", ""), next(iter(contexts.values()), {}))
        cluster = _named(doc.get("clusters"), context.get("cluster"), "cluster")
        user = _named(doc.get("users"), context.get("user"), "user")
        headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
        return cls(
            server=cluster["server"].rstrip("/"),
            headers=headers,
            ca_pem=_decode(cluster.get("certificate-authority-data")),
            client_cert_pem=_decode(user.get("client-certificate-data")),
            client_key_pem=_decode(user.get("client-key-data")),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        )

    def client(self) -> httpx.AsyncClient:
        """A client for this API server; its TLS context is shared with every other client of the same
        cluster and credentials (:func:`activities.tls.kubeconfig_tls`)."""
        return httpx.AsyncClient(headers=self.headers, verify=self._ssl_context())

    def _ssl_context(self) -> ssl.SSLContext:
        if not self.server.startswith("https://"):
            return default_tls()  # httpx builds a context even for plain HTTP
        return kubeconfig_tls(self.ca_pem, self.client_cert_pem, self.client_key_pem, self.insecure)


def _named(items: list[dict[str, Any]] | None, name: str | None, key: str) -> dict[str, Any]:
    entries = {i["name"]: i[key] for i in items or []}
    found: dict[str, Any] | None = entries.get(name or "") or next(iter(entries.values()), None)
    if found is None:
        raise ValueError(f"kubeconfig has no {key}")
    return found


def _decode(data: str | None) -> str | None:
    return base64.b64decode(data).decode() if data else None


def preferred_port(service_name: str) -> int | None:
    """The port a Prometheus-like Service name implies; None when the name is not one."""
    name = service_name.lower()
    if "prometheus" in name and not any(word in name for word in _NOT_PROMETHEUS):
        return 9090
    if any(word in name for word in ("victoria-metrics", "vmsingle", "vmselect")):
        return 8428
    if "mimir" in name and any(word in name for word in ("query-frontend", "querier", "nginx")):
        return 8080
    return None


def candidates(services: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """``(namespace, service, port)`` for each matching Service: the implied port if exposed, else its first."""
    found = []
    for svc in services:
        meta, ports = svc.get("metadata", {}), [p.get("port") for p in svc.get("spec", {}).get("ports") or []]
        wanted = preferred_port(meta.get("name", ""))
        if wanted is None or not ports:
            continue
        found.append((meta.get("namespace", ""), meta["name"], wanted if wanted in ports else int(ports[0])))
    return found


async def discover_prometheus(
    http: httpx.AsyncClient, server: str, workload_namespace: str, settings: ResultsSettings
) -> list[PrometheusEndpoint]:
    """Verified endpoints in discovery order: the first namespaces with candidates, else all namespaces."""
    found: list[tuple[str, str, int]] = []
    for namespace in (ns.format(workloads=workload_namespace) for ns in DISCOVERY_NAMESPACES):
        found += candidates(await _services(http, f"{server}/api/v1/namespaces/{namespace}/services"))
    if not found:
        found = candidates(await _services(http, f"{server}/api/v1/services"))
    endpoints = []
    for namespace, name, port in found:
        url = f"{server}/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy"
        probe = PromQLClient(http, url, timeout=settings.metrics_probe_timeout_seconds, attempts=1, parallelism=1)
        if await probe.probe(settings.metrics_probe_timeout_seconds):
            endpoints.append(PrometheusEndpoint(url, f"target:{namespace}/{name}"))
    return endpoints


async def _services(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    try:
        response = await http.get(url, timeout=10.0)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:
        return []
    items: list[dict[str, Any]] = response.json().get("items") or []
    return items
