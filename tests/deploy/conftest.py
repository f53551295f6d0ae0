"""Fixtures of the deployment tests: the kustomize builds of deploy/overlays/* and the platform/ manifests.

Manifests are read as plain dicts, as kubectl and ArgoCD read them; nothing here needs a cluster
except the tests marked `kube` (tests/fixtures/kube.py, and the dry run's own API server).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.fixtures.process import find_binary

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ("hub", "lab")
# Kustomizations applied on their own (not part of an overlay): the optional scrape objects.
EXTRA_BUILDS = ("monitoring",)
PLATFORM = REPO / "platform"
# Helm values, not Kubernetes objects.
PLATFORM_VALUES = PLATFORM / "values"

Manifest = dict[str, Any]


def kustomize_build(overlay: str) -> str:
    return kustomize(f"deploy/overlays/{overlay}")


def kustomize(directory: str) -> str:
    argv = [find_binary("kubectl"), "kustomize", str(REPO / directory)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def parse(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def platform_files() -> list[Path]:
    return sorted(
        path
        for path in PLATFORM.rglob("*.y*ml")
        if PLATFORM_VALUES not in path.parents and path.name != "kustomization.yaml"
    )


def name_of(doc: Manifest) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind')} {where}{meta.get('name')}"


@pytest.fixture(scope="session")
def built() -> dict[str, list[Manifest]]:
    """Overlay name -> the objects `kubectl kustomize` renders for it."""
    return {overlay: parse(kustomize_build(overlay)) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def platform_manifests() -> list[tuple[Path, Manifest]]:
    return [(path, doc) for path in platform_files() for doc in parse(path.read_text())]


def by_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def all_manifests(
    built: dict[str, list[Manifest]], platform_manifests: list[tuple[Path, Manifest]]
) -> list[tuple[str, Manifest]]:
    """(where it comes from, object) for every object of deploy/ (as kustomize builds it) and platform/."""
    docs = [(f"deploy/overlays/{overlay}", doc) for overlay, overlay_docs in built.items() for doc in overlay_docs]
    docs += [(f"deploy/{extra}", doc) for extra in EXTRA_BUILDS for doc in parse(kustomize(f"deploy/{extra}"))]
    return docs + [(str(path.relative_to(REPO)), doc) for path, doc in platform_manifests]


def ensure_namespaces(api: client.ApiClient, docs: list[Manifest]) -> None:
    """Create the namespaces ``docs`` declare or use, with the labels they declare.

    A dry-run-created Namespace does not exist afterwards, so objects in it could not be checked;
    created with the manifests' labels, Pod Security admission enforces what they declare.
    """
    labels = {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in docs if d["kind"] == "Namespace"}
    names = set(labels) | {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
    core = client.CoreV1Api(api)
    for name in sorted(names):
        try:
            core.create_namespace({"metadata": {"name": name, "labels": labels.get(name, {})}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            if labels.get(name):  # another test created it first
                core.patch_namespace(name, {"metadata": {"labels": labels[name]}})
