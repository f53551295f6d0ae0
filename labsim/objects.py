"""Small helpers over the kubernetes client for the simulated controllers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

Gvp = tuple[str, str, str]
"""(group, version, plural) of a custom resource."""


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, status: str, reason: str, message: str = "") -> dict[str, str]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_rfc3339(),
    }


def suffix(uid: str, length: int = 5) -> str:
    """A stable pseudo-random suffix, like the one Crossplane gives a composite resource."""
    return hashlib.sha256(uid.encode()).hexdigest()[:length]


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def uid_of(obj: dict[str, Any]) -> str:
    return str(meta(obj).get("uid", ""))


def set_finalizers(
    custom: CustomObjects, gvp: tuple[str, str, str], obj: dict[str, Any], finalizers: list[str]
) -> None:
    """Replace the finalizer list; skipped (next round) if the object changed since it was read."""
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta(obj)["resourceVersion"]}}
    try:
        custom.patch(gvp, obj, patch)
    except ApiException as exc:
        ignore_status(exc, 404, 409)


class CustomObjects:
    """``CustomObjectsApi`` with dict results typed as such (the client declares ``object``)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = client.CustomObjectsApi(api)

    def list(self, group: str, version: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace is None:
            result = self.api.list_cluster_custom_object(group, version, plural)
        else:
            result = self.api.list_namespaced_custom_object(group, version, namespace, plural)
        return list(cast(dict[str, Any], result).get("items", []))

    def get(self, group: str, version: str, namespace: str, plural: str, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.api.get_namespaced_custom_object(group, version, namespace, plural, name))

    def patch(
        self, gvp: tuple[str, str, str], obj: dict[str, Any], patch: dict[str, Any], status: bool = False
    ) -> None:
        m = meta(obj)
        call = self.api.patch_namespaced_custom_object_status if status else self.api.patch_namespaced_custom_object
        call(gvp[0], gvp[1], m["namespace"], gvp[2], m["name"], patch)


def ignore_status(exc: ApiException, *codes: int) -> None:
    """Re-raise unless the API answered one of ``codes`` (404 gone, 409 changed meanwhile...)."""
    if exc.status not in codes:
        raise exc


def object_meta(name: str, labels: dict[str, str] | None = None) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, labels=labels or {})
