"""Connecting to a cluster the way kubectl does, and applying manifests server-side.

Honours ``--kubeconfig``, ``$KUBECONFIG`` and ``--context`` (the original labctl ignored
``$KUBECONFIG``). Failures become one-line LabctlErrors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from labctl.command import LabctlError

FIELD_MANAGER = "labctl"


def describe(kubeconfig: str | None, context: str | None) -> str:
    where = f"kubeconfig {kubeconfig or os.environ.get('KUBECONFIG') or '~/.kube/config'}"
    return where + (f", context {context}" if context else "")


def connect(
    kubeconfig: str | Path | None = None, context: str | None = None, *, retries: int | None = None
) -> client.ApiClient:
    """``retries``: connection retries per request (1 makes an unreachable cluster fail fast)."""
    # $KUBECONFIG is read now: the kubernetes package reads it once, when it is first imported.
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None, context=context, client_configuration=configuration
        )
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise LabctlError(f"cannot use {describe(str(kubeconfig) if kubeconfig else None, context)}: {exc}") from exc
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
