"""Who made the API requests of a run, from the API server's audit log (``bench.scale --audit``).

The API server's own counters (``apiserver_request_total``) count requests by verb and resource, not by
client, and in the lab every simulated target cluster is the hub's own API server. The audit log
(Metadata level: user, user agent, verb, object, no bodies) tells them apart:

- **simulated cluster** — what a real GKE/EKS/AKS cluster's API server would answer, never the hub's:
  requests made with a cloud identity (the worker talking to its target: RBAC bootstrap, Secrets
  copied there, service discovery), and every request on an experiment's workload namespace or on
  an object in it (the manifests the simulated ArgoCD applies there, kube-controller-manager's
  lifecycle of that namespace). hello-app's target is a GKE cluster; a ``hub`` target's workload
  namespace would be counted here too, so read the split for cloud targets only;
- **this script** — the benchmark's own creates and its Experiment watch (user agent ``bench``);
- **hub control plane** — kube-controller-manager (user agent ``kube-controller-manager/…``; in the lab
  it uses the admin identity) outside the workload namespaces: mostly the namespace controller's
  discovery (``GET /api``, ``/apis``) before each namespace it deletes, i.e. caused by the simulated
  clusters' namespaces too; and the API server's own requests (``system:apiserver``: its identity lease);
- **hub** — every other request: the worker, the gateway and the simulator's hub-side controllers
  (claims, Applications, Argo Workflows), which in the lab all use the admin identity.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from api import names

USER_AGENT = "bench"
"""The user agent of this script's own API clients (bench.common.api_client)."""
SIMULATED = "simulated cluster"
SCRIPT = "this script"
CONTROL_PLANE = "hub control plane"
HUB = "hub"
SOURCES = (HUB, CONTROL_PLANE, SIMULATED, SCRIPT)
VERBS = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}
"""Audit verbs as ``apiserver_request_total`` spells them (get, list and watch are upper-cased)."""


class Identity(NamedTuple):
    namespace: str
    name: str
    uid: str


def workload_namespaces(experiments: Iterable[Mapping[str, Any]]) -> set[str]:
    """The workload namespace (api.names) of each Experiment object."""
    return {
        names.workload_namespace(Identity(o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["uid"]))
        for o in experiments
    }


def _kind(event: Mapping[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    verb = str(event.get("verb", ""))
    if not ref:  # /api, /apis, /version, …
        return f"{verb.upper()} {str(event.get('requestURI', '')).split('?')[0]}"
    resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return f"{VERBS.get(verb, verb.upper())} {resource}"


def source_of(event: Mapping[str, Any], workloads: set[str]) -> str:
    user = str((event.get("user") or {}).get("username", ""))
    ref = event.get("objectRef") or {}
    namespace = ref.get("name") if ref.get("resource") == "namespaces" else ref.get("namespace")
    in_workload = namespace in workloads
    if in_workload or (user != "admin" and not user.startswith("system:")):
        return SIMULATED
    agent = str(event.get("userAgent", ""))
    if agent.startswith(USER_AGENT + " ") or agent == USER_AGENT:
        return SCRIPT
    if agent.startswith("kube-controller-manager/") or user.startswith(
        ("system:kube-controller-manager", "system:serviceaccount:kube-system:", "system:apiserver")
    ):
        return CONTROL_PLANE
    return HUB


def log_files(log: Path) -> list[Path]:
    """The audit log and the files it rotated into (``audit-<time>.log`` beside it)."""
    return sorted(log.parent.glob(f"{log.stem}-*{log.suffix}")) + ([log] if log.exists() else [])


def attribute(log: Path, began: datetime, ended: datetime, workloads: set[str]) -> dict[str, dict[str, int]]:
    """Requests received between ``began`` and ``ended`` (UTC): source → kind → count, most first."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for path in log_files(log):
        with path.open() as lines:
            for line in lines:
                event = json.loads(line)
                received = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
                if began <= received <= ended:
                    counts[source_of(event, workloads)][_kind(event)] += 1
    return {source: dict(counts[source].most_common()) for source in SOURCES}
