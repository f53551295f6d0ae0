"""Component resolution: a ComponentRef plus its Component from the catalog → ArgoCD sources.

Follows the original's source mapping (seed §3.2) with two fixes: the ref's ``params`` reach every
deployable source, including git paths without a Helm block (the original dropped them there), and
Helm parameters come out in a stable order (the Component's own first, then new ones by name), so an
unchanged experiment never rewrites its Applications. A Component missing from the catalog is a
permanent error naming it; admission validation normally catches that first.

Deployment reads Components from the worker's informer over the catalog (every layer of every target
reads them: one GET each cost ~16 requests per experiment); the API answers what the store lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.errors import ApplicationFailed
from activities.kube import CustomObjects, VersionCache, is_not_found
from activities.watches import HubWatches, Kind
from api.base import API_GROUP, API_VERSION
from api.component import Component, ComponentSource
from api.experiment import ComponentRef
from api.validation import Problem, parse_object

COMPONENTS = Kind(API_GROUP, API_VERSION, "components", None, "Component", selector="")
"""The catalog as the worker's informer keeps it: every Component (the catalog carries no label of ours)."""


def read_component(api: client.ApiClient, name: str, watches: HubWatches | None = None) -> Component:
    """The Component from the informer's store if it has it, else from the API (404: permanent error)."""
    body = watches.stored(COMPONENTS, name) if watches else None
    if body is None:
        try:
            body = CustomObjects(api).get_cluster(API_GROUP, API_VERSION, "components", name)
        except ApiException as exc:
            if is_not_found(exc):
                raise ApplicationFailed(f"no Component named {name!r} in the catalog") from exc
            raise
    component, problems = parsed_component(body)
    if not isinstance(component, Component):
        raise ApplicationFailed(f"Component {name!r} is invalid: {'; '.join(p.render() for p in problems)}")
    return component


def read_catalog(api: client.ApiClient, watches: HubWatches | None = None) -> dict[str, Component]:
    """Every valid Component by name; invalid ones are left out (their own validation reports why).

    With ``watches``, from the informer's store once it has synced (a moment behind the API at most).
    """
    bodies = watches.stored_all(COMPONENTS) if watches else None
    if bodies is None:
        bodies = CustomObjects(api).list(API_GROUP, API_VERSION, "components")
    catalog = {}
    for body in bodies:
        component, _ = parsed_component(body)
        if isinstance(component, Component) and component.metadata.name:
            catalog[component.metadata.name] = component
    return catalog


def parsed_component(body: dict[str, Any]) -> tuple[Component | None, list[Problem]]:
    """The Component (None if the schema rejects it) and the problems of one catalog object, its
    ``status`` left out. Kept per object version (uid, resourceVersion): every validation and every
    deployment reads the whole catalog or parts of it, and parsing each Component again cost more than
    reading it from the informer. The Component returned is shared: read it, never change it."""
    meta = body.get("metadata") or {}
    return _PARSED.get((meta.get("uid"), meta.get("resourceVersion")), lambda: _parse(body))


def _parse(body: dict[str, Any]) -> tuple[Component | None, list[Problem]]:
    component, problems = parse_object({k: v for k, v in body.items() if k != "status"})
    return (component if isinstance(component, Component) else None), problems


PARSED_COMPONENTS = 1024
"""Component versions whose parse is kept (the catalog holds tens; a bound, the oldest goes first)."""
_PARSED: VersionCache[tuple[Component | None, list[Problem]]] = VersionCache(PARSED_COMPONENTS)


def argocd_sources(component: Component, params: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """One ArgoCD source per Component source, with the ref's params applied to each deployable one."""
    sources = component.spec.sources or []
    uses_values_ref = any(f.startswith("$values") for s in sources if s.helm for f in (s.helm.values_files or []))
    return [_source(s, uses_values_ref, params or {}) for s in sources]


def _source(source: ComponentSource, uses_values_ref: bool, params: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"repoURL": source.repo_url, "targetRevision": source.target_revision}
    if source.chart:
        out["chart"] = source.chart
    elif uses_values_ref and source.helm is None:
        out["ref"] = "values"
        return out
    elif source.path:
        out["path"] = source.path
    helm: dict[str, Any] = {}
    if source.helm and source.helm.release_name:
        helm["releaseName"] = source.helm.release_name
    if source.helm and source.helm.values_files:
        helm["valueFiles"] = list(source.helm.values_files)
    parameters = helm_parameters(
        [(p.name, p.value) for p in (source.helm.parameters or [])] if source.helm else [], params
    )
    if parameters:
        helm["parameters"] = parameters
    if helm or source.helm:
        out["helm"] = helm
    return out


def helm_parameters(declared: list[tuple[str, str]], overrides: Mapping[str, str]) -> list[dict[str, str]]:
    """Declared parameters in their order (overridden values in place), then new overrides sorted by name."""
    known = {name for name, _ in declared}
    merged = [{"name": name, "value": overrides.get(name, value)} for name, value in declared]
    merged += [{"name": name, "value": overrides[name]} for name in sorted(overrides) if name not in known]
    return merged


def ref_label(ref: ComponentRef) -> str:
    """``app/hello-app`` style, for messages."""
    kind = "app" if ref.app else "workflow" if ref.workflow else "config"
    return f"{kind}/{ref.component_name}"
