"""The Components that component references are checked against: a directory tree or a cluster.

A catalog is read-only lookup data, like the platform's: name → Component. Components that fail
validation are left out (and counted), so a reference to one reads as "no Component named …"
while the Component's own file reports why it is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.base import API_GROUP, API_VERSION
from api.component import Component
from api.validation import parse_object
from labctl.command import LabctlError
from labctl.manifests import Document, read_documents, yaml_files

COMPONENTS_DIR = "components"
LAB_KINDS = ("Experiment", "Component")
_REQUEST_TIMEOUT_SECONDS = 15


@dataclass
class Catalog:
    source: str  # where the Components came from, for the summary line
    components: dict[str, Component] = field(default_factory=dict)
    left_out: int = 0  # Components found but invalid

    def describe(self) -> str:
        text = f"{len(self.components)} Components from {self.source}"
        return text + (f" ({self.left_out} invalid left out)" if self.left_out else "")


def is_lab_object(doc: Document, kinds: tuple[str, ...] = LAB_KINDS) -> bool:
    """One of our kinds, in our API group (or with no apiVersion yet: validation reports that)."""
    return doc.kind in kinds and doc.api_group in (API_GROUP, None)


def find_components_dir(start: Path) -> Path | None:
    """``components/`` in ``start`` or the nearest parent directory that has one."""
    for directory in (start, *start.parents):
        candidate = directory / COMPONENTS_DIR
        if candidate.is_dir():
            return candidate
    return None


def from_directory(root: Path) -> Catalog:
    if not root.is_dir():
        raise LabctlError(f"catalog {root}: no such directory")
    catalog = Catalog(source=display_path(root) + "/")
    files, _ = yaml_files([str(root)])
    for file in files:
        documents, _ = read_documents(file)
        for doc in documents:
            if is_lab_object(doc, ("Component",)):
                _add(catalog, doc.body)
    return catalog


def from_cluster(kubeconfig: str | None, context: str | None) -> Catalog:
    """The Components in a cluster; the default kubeconfig (``$KUBECONFIG``) when none is named."""
    from kubernetes import client  # slow to import: only when a cluster is asked for
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from labctl import kube

    where = kube.describe(kubeconfig, context)
    catalog = Catalog(source=f"the cluster ({where})")
    try:
        with kube.connect(kubeconfig, context, retries=1) as api_client:
            listing = client.CustomObjectsApi(api_client).list_cluster_custom_object(
                API_GROUP, API_VERSION, "components", _request_timeout=_REQUEST_TIMEOUT_SECONDS
            )
    except ApiException as exc:
        raise LabctlError(f"cannot list Components ({where}): {_api_reason(exc)}") from exc
    except (HTTPError, OSError) as exc:
        raise LabctlError(f"cannot reach the cluster ({where}): {_network_reason(exc)}") from exc
    for item in listing.get("items", []) if isinstance(listing, dict) else []:
        item.pop("status", None)  # written by the platform, not part of what users declare
        _add(catalog, item)
    return catalog


def _add(catalog: Catalog, body: dict[str, Any]) -> None:
    component, _ = parse_object(body)
    if isinstance(component, Component) and component.metadata.name:
        catalog.components[component.metadata.name] = component
    else:
        catalog.left_out += 1


def _api_reason(exc: Any) -> str:
    if exc.status == 404:
        return "the Component CRD is not installed there (kubectl apply -f deploy/crds/)"
    if exc.status in (401, 403):
        return f"not allowed to list components.{API_GROUP} ({exc.status} {exc.reason})"
    return f"{exc.status} {exc.reason}"


def _network_reason(exc: BaseException) -> str:
    reason = str(getattr(exc, "reason", None) or exc)
    # urllib3 prefixes the reason with the connection object's repr: keep the readable part.
    return reason.rsplit(">: ", 1)[-1].splitlines()[0]


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)
