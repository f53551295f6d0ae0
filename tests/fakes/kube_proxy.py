"""A Kubernetes API server's Service listing and service proxy, forwarding to real Prometheus/VictoriaMetrics.

A real kube-apiserver refuses to proxy to loopback addresses, so target discovery is exercised against
this: the same URL paths (``/api/v1/namespaces/<ns>/services[/<svc>:<port>/proxy/...]``), and behind the
proxy a real PromQL server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

from tests.fakes.http import LoopbackServer, Request, Response

_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/:]+):(\d+)/proxy(/.*)$")
_LIST = re.compile(r"^/api/v1/(?:namespaces/([^/]+)/)?services$")


@dataclass
class FakeService:
    namespace: str
    name: str
    ports: list[int]
    upstream: str | None = None
    """Where proxied requests go; None for a Service that is not a working Prometheus."""


@dataclass
class FakeKubeApi:
    services: list[FakeService] = field(default_factory=list)
    token: str = "target-token"

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"kind": "Status", "code": 401}, {}
        if m := _LIST.match(request.path):
            items = [
                {
                    "metadata": {"name": s.name, "namespace": s.namespace},
                    "spec": {"ports": [{"port": p} for p in s.ports]},
                }
                for s in self.services
                if m.group(1) in (None, s.namespace)
            ]
            return 200, {"kind": "ServiceList", "items": items}, {}
        if m := _PROXY.match(request.path):
            namespace, name, port, rest = m.groups()
            svc = next((s for s in self.services if (s.namespace, s.name) == (namespace, name)), None)
            if svc is None or svc.upstream is None or int(port) not in svc.ports:
                return 503, {"kind": "Status", "message": "no endpoints available"}, {}
            upstream = httpx.get(f"{svc.upstream}{rest}", params=request.query, timeout=30)
            return upstream.status_code, upstream.content, {"Content-Type": "application/json"}
        return 404, {"kind": "Status", "code": 404}, {}

    def kubeconfig(self, server: str) -> str:
        return (
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            f"clusters: [{{name: t, cluster: {{server: '{server}'}}}}]\n"
            f"users: [{{name: t, user: {{token: {self.token}}}}}]\n"
            "contexts: [{name: t, context: {cluster: t, user: t}}]\n"
        )


def serve(api: FakeKubeApi) -> LoopbackServer:
    return LoopbackServer(api.handle)
