"""The committed CRDs are exactly what the models generate, and stay structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from api.crd import crd_files, experiment_crd
from labctl.controlplane import ETCD_VERSION, KUBERNETES_VERSION

REPO = Path(__file__).resolve().parents[1]


def test_committed_crds_match_the_models() -> None:
    for path, text in crd_files().items():
        assert path.exists(), f"{path} missing: run `make crds`"
        assert path.read_text() == text, f"{path.name} is stale: run `make crds` and commit the result"


def _walk(node: Any, path: str = "") -> list[str]:
    bad = []
    if isinstance(node, dict):
        for forbidden in ("$ref", "anyOf", "allOf", "oneOf", "title", "const"):
            if forbidden in node and not path.endswith("properties"):
                bad.append(f"{path}.{forbidden}")
        if node.get("default", 0) is None:
            bad.append(f"{path}.default")
        for key, value in node.items():
            bad += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            bad += _walk(item, f"{path}[{i}]")
    return bad


def test_generated_schema_is_structural() -> None:
    for text in crd_files().values():
        crd = yaml.safe_load(text)
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert _walk(schema) == []


def test_original_field_names_and_defaults_are_kept() -> None:
    schema = experiment_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]["properties"]
    status = schema["properties"]["status"]["properties"]
    assert spec["ttlDays"] == {"type": "integer", "default": 1, "minimum": 0, "maximum": 365} | {
        "description": spec["ttlDays"]["description"]
    }
    assert spec["workflow"]["properties"]["completion"]["properties"]["mode"]["enum"] == ["workflow", "manual"]
    assert "glossary" in spec["analyzerConfig"]["properties"]["sections"]["items"]["enum"]
    assert spec["qualityGate"]["properties"]["maxIterations"]["maximum"] == 5
    for name in ("resultsURL", "publishPRNumber", "publishPRURL", "workflowStatus", "iterationStatus", "conditions"):
        assert name in status
    assert status["conditions"]["x-kubernetes-list-type"] == "map"


def test_envtest_pins_match_the_go_modules() -> None:
    k8s_mod = (REPO / "tools/envtest/kubernetes/go.mod").read_text()
    etcd_mod = (REPO / "tools/envtest/etcd/go.mod").read_text()
    assert f"k8s.io/kubernetes v{KUBERNETES_VERSION}" in k8s_mod
    assert f"go.etcd.io/etcd/server/v3 v{ETCD_VERSION}" in etcd_mod
