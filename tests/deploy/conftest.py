"""Fixtures of the deployment tests: the kustomize builds of deploy/overlays/* and the platform/ manifests.

Manifests are read as plain dicts, as kubectl and ArgoCD read them; nothing here needs a cluster
except the dry-run test, which uses the shared real API server (tests/fixtures/kube.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.process import find_binary

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ("hub", "lab")
PLATFORM = REPO / "platform"
# Helm values, not Kubernetes objects.
PLATFORM_VALUES = PLATFORM / "values"

Manifest = dict[str, Any]


def kustomize_build(overlay: str) -> str:
    argv = [find_binary("kubectl"), "kustomize", str(REPO / "deploy" / "overlays" / overlay)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kubectl kustomize deploy/overlays/{overlay} failed:\n{result.stderr}"
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
