"""What an Experiment's references are checked against: a directory tree or a cluster.

A catalog is read-only lookup data, like the platform's: name → Component, plus the names of the
WorkflowTemplates in namespace argo-workflows. Components that fail validation are left out (and
counted), so a reference to one reads as "no Component named …" while the Component's own file
reports why it is invalid. A ``components/`` directory brings the WorkflowTemplates of the
``experiments/`` directory beside it (``experiments/*/workflow/template.yaml``), the way the lab
installs both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.base import API_GROUP, API_VERSION
from api.component import Component
from api.names import ARGO_WORKFLOWS_NAMESPACE
from api.validation import parse_object
from labctl.command import LabctlError
from labctl.manifests import Document, read_documents, yaml_files

if TYPE_CHECKING:
    from runtime.kube import ClusterChoice

COMPONENTS_DIR = "components"
EXPERIMENTS_DIR = "experiments"
LAB_KINDS = ("Experiment", "Component")
ARGO_GROUP, ARGO_VERSION = "argoproj.io", "v1alpha1"
_REQUEST_TIMEOUT_SECONDS = 15


@dataclass
class Catalog:
    source: str  # where the Components came from, for the summary line
    components: dict[str, Component] = field(default_factory=dict)
    left_out: int = 0  # Components found but invalid
    templates: set[str] | None = None  # WorkflowTemplates in argo-workflows; None: not known, not checked
    templates_source: str = ""

    def describe(self) -> str:
        text = f"{len(self.components)} Components from {self.source}"
        text += f" ({self.left_out} invalid left out)" if self.left_out else ""
        if self.templates is None:
            return text + "; WorkflowTemplate references not checked (no experiments/ beside the components)"
        return text + f"; {len(self.templates)} WorkflowTemplates from {self.templates_source}"


def is_lab_object(doc: Document, kinds: tuple[str, ...] = LAB_KINDS) -> bool:
    """One of our kinds, in our API group (or with no apiVersion yet: validation reports that)."""
    return doc.kind in kinds and doc.api_group in (API_GROUP, None)


def workflow_template_name(doc: Document) -> str | None:
    """The name of an Argo WorkflowTemplate meant for namespace argo-workflows (or none given), else None."""
    if doc.kind != "WorkflowTemplate" or doc.api_group != ARGO_GROUP:
        return None
    meta = doc.body.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name and namespace in (None, ARGO_WORKFLOWS_NAMESPACE) else None


def find_components_dir(start: Path) -> Path | None:
    """``components/`` in ``start`` or the nearest parent directory that has one."""
    for directory in (start, *start.parents):
        candidate = directory / COMPONENTS_DIR
        if candidate.is_dir():
            return candidate
    return None


def from_directory(root: Path) -> Catalog:
    """The Components under ``root``; the WorkflowTemplates under it and under ``experiments/`` beside it."""
    if not root.is_dir():
        raise LabctlError(f"catalog {root}: no such directory")
    catalog = Catalog(source=display_path(root) + "/")
    templates: set[str] = set()
    for doc in _documents(root):
        if is_lab_object(doc, ("Component",)):
            _add(catalog, doc.body)
        elif name := workflow_template_name(doc):
            templates.add(name)
    experiments = root.parent / EXPERIMENTS_DIR
    if experiments.is_dir() and experiments.resolve() != root.resolve():
        templates |= {n for doc in _documents(experiments) if (n := workflow_template_name(doc))}
        catalog.templates, catalog.templates_source = templates, display_path(experiments) + "/"
    elif templates:
        catalog.templates, catalog.templates_source = templates, catalog.source
    return catalog


def _documents(root: Path) -> list[Document]:
    files, _ = yaml_files([str(root)])
    return [doc for file in files for doc in read_documents(file)[0]]


def from_cluster(choice: ClusterChoice) -> Catalog:
    """The Components and argo-workflows WorkflowTemplates of a cluster (the hub)."""
    from kubernetes import client  # slow to import: only when a cluster is asked for
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from labctl import kube

    where = choice.describe()
    catalog = Catalog(source=f"the cluster ({where})")
    catalog.templates_source = f"namespace {ARGO_WORKFLOWS_NAMESPACE} of the cluster"
    what = "Components"
    try:
        with kube.connect(choice, retries=1) as api_client:
            api = client.CustomObjectsApi(api_client)
            listing = api.list_cluster_custom_object(
                API_GROUP, API_VERSION, "components", _request_timeout=_REQUEST_TIMEOUT_SECONDS
            )
            what = "WorkflowTemplates"
            catalog.templates = _cluster_templates(api)
    except ApiException as exc:
        raise LabctlError(f"cannot list {what} ({where}): {_api_reason(exc, what)}") from exc
    except (HTTPError, OSError) as exc:
        raise LabctlError(f"cannot reach the cluster ({where}): {_network_reason(exc)}") from exc
    for item in listing.get("items", []) if isinstance(listing, dict) else []:
        item.pop("status", None)  # written by the platform, not part of what users declare
        _add(catalog, item)
    if not catalog.templates:
        catalog.templates_source += " (none there: is Argo Workflows installed?)"
    return catalog


def _cluster_templates(api: Any) -> set[str]:
    """The WorkflowTemplate names of namespace argo-workflows; none when Argo Workflows is not installed."""
    from kubernetes.client.exceptions import ApiException

    try:
        listing = api.list_namespaced_custom_object(
            ARGO_GROUP,
            ARGO_VERSION,
            ARGO_WORKFLOWS_NAMESPACE,
            "workflowtemplates",
            _request_timeout=_REQUEST_TIMEOUT_SECONDS,
        )
    except ApiException as exc:
        if exc.status == 404:  # the CRD is not installed
            return set()
        raise
    items = listing.get("items", []) if isinstance(listing, dict) else []
    return {str(item["metadata"]["name"]) for item in items}


def _add(catalog: Catalog, body: dict[str, Any]) -> None:
    component, _ = parse_object(body)
    if isinstance(component, Component) and component.metadata.name:
        catalog.components[component.metadata.name] = component
    else:
        catalog.left_out += 1


def _api_reason(exc: Any, what: str) -> str:
    resource = f"components.{API_GROUP}" if what == "Components" else f"workflowtemplates.{ARGO_GROUP}"
    if exc.status == 404:
        return "the Component CRD is not installed there (kubectl apply -f deploy/crds/)"
    if exc.status in (401, 403):
        return f"not allowed to list {resource} ({exc.status} {exc.reason})"
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
