"""ArgoCD's AppProject check, as the application controller makes it before a sync.

An Application names a project; ``default`` is ArgoCD's built-in project and permits everything. Any
other must exist in ``argocd``, and the destination must match one of its destinations and none of
its deny entries (a ``!`` before server or namespace, ArgoCD >= 2.5): glob patterns, as ArgoCD's
``isDestinationMatched``. Resource allow-lists are not simulated (labsim renders no real kinds).
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "appprojects"
BUILT_IN = "default"


def _matches(pattern: str, value: str) -> bool:
    if pattern.startswith("!"):
        return not fnmatchcase(value, pattern[1:])
    return fnmatchcase(value, pattern)


def _is_deny(pattern: str) -> bool:
    return pattern.startswith("!")


def destination_permitted(destinations: list[dict[str, Any]], server: str, namespace: str) -> bool:
    """Some allow entry matches server (or name) and namespace, and no deny entry excludes them."""
    allowed, denied = False, False
    for item in destinations:
        item_server, item_namespace = str(item.get("server") or ""), str(item.get("namespace") or "")
        server_ok = bool(server) and bool(item_server) and _matches(item_server, server)
        namespace_ok = _matches(item_namespace, namespace)
        if server_ok and namespace_ok:
            allowed = True
        elif (not server_ok and _is_deny(item_server)) or (not namespace_ok and _is_deny(item_namespace)):
            denied = True
    return allowed and not denied


def project_problem(project_named: Callable[[str], dict[str, Any] | None], app: dict[str, Any]) -> str | None:
    """ArgoCD's InvalidSpecError message for the Application's project and destination, or None.

    ``project_named(name)``: the AppProject in ArgoCD's namespace, None if it does not exist."""
    spec = app.get("spec") or {}
    name = spec.get("project") or BUILT_IN
    if name == BUILT_IN:
        return None
    project = project_named(name)
    if project is None:
        return f"Application referencing project {name} which does not exist"
    destination = spec.get("destination") or {}
    server, target_namespace = str(destination.get("server") or ""), str(destination.get("namespace") or "")
    if destination_permitted((project.get("spec") or {}).get("destinations") or [], server, target_namespace):
        return None
    return (
        f"application destination server '{server}' and namespace '{target_namespace}' do not match any of "
        f"the allowed destinations in project '{name}'"
    )
