"""Self-contained kubeconfigs for the simulated clusters: the simulator's own server and credentials."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def standalone_kubeconfig(source: Path, cluster_name: str) -> str:
    """A kubeconfig for the API server ``source`` points at, with files inlined as ``*-data``."""
    doc = yaml.safe_load(source.read_text())
    context = _named(doc["contexts"], doc["current-context"])["context"]
    cluster = dict(_named(doc["clusters"], context["cluster"])["cluster"])
    user = dict(_named(doc["users"], context["user"])["user"])
    for section in (cluster, user):
        for key in ("certificate-authority", "client-certificate", "client-key"):
            if key in section:
                section[f"{key}-data"] = base64.b64encode(Path(section.pop(key)).read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": f"{cluster_name}-admin", "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": f"{cluster_name}-admin"}}],
        "current-context": cluster_name,
    }
    return yaml.safe_dump(config, sort_keys=False)


def server_of(source: Path) -> str:
    doc = yaml.safe_load(source.read_text())
    context = _named(doc["contexts"], doc["current-context"])["context"]
    return str(_named(doc["clusters"], context["cluster"])["cluster"]["server"])


def _named(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(e for e in entries if e["name"] == name)
