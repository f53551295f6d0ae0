"""Connecting to a cluster the way kubectl does, and applying manifests server-side.

Honours ``--kubeconfig``, ``$KUBECONFIG`` and ``--context`` in runtime/kube.py's order (the original
labctl ignored ``$KUBECONFIG``). Failures become one-line LabctlErrors.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from labctl.command import LabctlError
from runtime.kube import ClusterChoice, kube_configuration

FIELD_MANAGER = "labctl"


def connect(choice: ClusterChoice, *, retries: int | None = None) -> client.ApiClient:
    """``retries``: connection retries per request (1 makes an unreachable cluster fail fast)."""
    try:
        configuration = kube_configuration(choice)
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise LabctlError(f"cannot use {choice.describe()}: {exc}") from exc
    if retries is not None:
        configuration.retries = retries
    return client.ApiClient(configuration)


def load_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    docs = []
    for path in paths:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind")]
    return docs


def apply(api_client: client.ApiClient, docs: Iterable[dict[str, Any]], *, dry_run: bool = False) -> list[str]:
    """Server-side apply every document (create or update); returns ``Kind/name`` of each."""
    dynamic = DynamicClient(api_client)  # type: ignore[no-untyped-call]
    applied = []
    for doc in docs:
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        meta = doc.get("metadata", {})
        kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "force_conflicts": True}
        if dry_run:
            kwargs["dry_run"] = "All"
        if resource.namespaced:
            kwargs["namespace"] = meta.get("namespace") or "default"
        resource.server_side_apply(body=doc, name=meta["name"], **kwargs)
        applied.append(f"{doc['kind']}/{meta['name']}")
    return applied
