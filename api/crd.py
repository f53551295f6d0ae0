"""CustomResourceDefinitions generated from the pydantic models — the only source of the schema.

``python -m api.crd`` rewrites ``deploy/crds/``; a test fails when the committed files differ.
The JSON schema pydantic emits is turned into a *structural* OpenAPI v3 schema: ``$ref`` inlined,
``Optional`` unwrapped, titles and ``additionalProperties: false`` dropped (the API server prunes
unknown fields itself).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from api.base import API_GROUP, API_VERSION
from api.component import ComponentSpec
from api.experiment import ExperimentSpec, ExperimentStatus

CRD_DIR = Path(__file__).resolve().parent.parent / "deploy" / "crds"

_DROP = {"title", "discriminator"}
_KEY_ORDER = ("type", "description", "required", "default", "enum")


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs)


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}
    if "anyOf" in node:
        choices = [c for c in node.pop("anyOf") if c.get("type") != "null"]
        if len(choices) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {choices}")
        node = {**choices[0], **node}
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
        node.setdefault("type", "string")
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if "$ref" in node or "anyOf" in node:
        node = _convert(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _convert(prop, defs) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _convert(value, defs)
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    first = [k for k in _KEY_ORDER if k in out]
    return {k: out[k] for k in first + [k for k in out if k not in _KEY_ORDER]}


def _printer(name: str, type_: str, path: str, priority: int = 0, description: str = "") -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        column["priority"] = priority
    if description:
        column["description"] = description
    return column


def _crd(
    *,
    plural: str,
    kind: str,
    scope: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    columns: list[dict[str, Any]],
    short_names: list[str],
    categories: list[str],
) -> dict[str, Any]:
    root = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{API_GROUP}"},
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": categories,
            },
            "scope": scope,
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def experiment_crd() -> dict[str, Any]:
    spec = structural_schema(ExperimentSpec)
    spec["x-kubernetes-validations"] = [
        {
            "rule": "self == oldSelf",
            "message": "spec is immutable after creation: create a new Experiment instead",
        }
    ]
    return _crd(
        plural="experiments",
        kind="Experiment",
        scope="Namespaced",
        spec=spec,
        status=structural_schema(ExperimentStatus),
        short_names=["exp"],
        categories=["illm"],
        columns=[
            _printer("Phase", "string", ".status.phase"),
            _printer("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason'),
            _printer("Targets", "string", ".spec.targets[*].name"),
            _printer("Workflow", "string", ".status.workflowStatus.phase"),
            _printer("Published", "boolean", ".status.published"),
            _printer("Cleaned", "boolean", ".status.resourcesCleaned"),
            _printer("Analysis", "string", ".status.analysisPhase"),
            _printer("Review", "string", ".status.reviewPhase"),
            _printer("Results", "string", ".status.resultsURL", priority=1),
            _printer("Age", "date", ".metadata.creationTimestamp"),
        ],
    )


def component_crd() -> dict[str, Any]:
    status = {
        "type": "object",
        "properties": {
            "conditions": {
                "type": "array",
                "items": structural_schema(_condition_model()),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            }
        },
    }
    return _crd(
        plural="components",
        kind="Component",
        scope="Cluster",
        spec=structural_schema(ComponentSpec),
        status=status,
        short_names=["comp"],
        categories=["illm"],
        columns=[
            _printer("Type", "string", ".spec.type"),
            _printer("Sources", "string", ".spec.sources[*].repoURL", priority=1),
            _printer("Age", "date", ".metadata.creationTimestamp"),
        ],
    )


def _condition_model() -> type[BaseModel]:
    from api.experiment import Condition

    return Condition


def render(crd: dict[str, Any]) -> str:
    header = "# Generated by `python -m api.crd` from the models in api/. Do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=100)


def crd_files() -> dict[Path, str]:
    return {
        CRD_DIR / f"{API_GROUP}_experiments.yaml": render(experiment_crd()),
        CRD_DIR / f"{API_GROUP}_components.yaml": render(component_crd()),
    }


def main() -> int:
    CRD_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in crd_files().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(CRD_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
