"""docs/operations.md names what the manifests and the code name: a renamed Deployment, Secret path,
label or finalizer fails here instead of leaving an operator with a command that finds nothing."""

from __future__ import annotations

import re
from typing import Any

from api.experiment import EXPERIMENT_FINALIZER
from api.names import EXPERIMENT_UID_LABEL, workflow_id
from crd_gateway.executor import LEFTOVERS_REASON
from crd_gateway.planner import DELETING
from tests.deploy.conftest import REPO, Manifest, parse, platform_files

DOC = (REPO / "docs" / "operations.md").read_text()
OWN_NAMESPACE = "experiment-system"
KIND_OF = {"deployment": "Deployment", "deploy": "Deployment", "svc": "Service", "externalsecret": "ExternalSecret"}


def _objects(built: dict[str, list[Manifest]]) -> set[tuple[str, str, str]]:
    return {
        (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
        for doc in built["hub"]
        if doc.get("metadata")
    }


def _commands_in(namespace: str) -> list[str]:
    return [line for line in DOC.splitlines() if f"kubectl -n {namespace} " in line]


def test_every_object_a_command_names_in_the_experiment_system_exists_in_the_hub_overlay(
    built: dict[str, list[Manifest]],
) -> None:
    objects = _objects(built)
    named = [
        (KIND_OF[kind], name)
        for line in _commands_in(OWN_NAMESPACE)
        for kind, name in re.findall(r"\b(deployment|deploy|svc)/([a-z0-9-]+)", line)
    ]
    named += [("ExternalSecret", name) for name in re.findall(r"annotate externalsecret ([a-z0-9-]+)", DOC)]
    assert len(named) >= 5
    missing = [f"{kind} {OWN_NAMESPACE}/{name}" for kind, name in named if (kind, OWN_NAMESPACE, name) not in objects]
    assert not missing, f"docs/operations.md names objects the hub overlay does not have: {missing}"


def _remote_keys(doc: dict[str, Any]) -> set[str]:
    spec = doc.get("spec") or {}
    keys = {entry["remoteRef"]["key"] for entry in spec.get("data", [])}
    return keys | {entry["extract"]["key"] for entry in spec.get("dataFrom", []) if "extract" in entry}


def test_every_openbao_path_in_the_secrets_table_is_read_by_an_external_secret(
    built: dict[str, list[Manifest]],
) -> None:
    external_secrets = [d for d in built["hub"] if d.get("kind") == "ExternalSecret"]
    external_secrets += [
        d for path in platform_files() for d in parse(path.read_text()) if d.get("kind") == "ExternalSecret"
    ]
    read = set().union(*(_remote_keys(d) for d in external_secrets))
    table = re.findall(r"^\| `([a-z-]+/[a-z-]+)` \|", DOC, re.M)
    assert len(table) >= 8
    unread = sorted(set(table) - read)
    assert not unread, f"docs/operations.md lists OpenBao paths no ExternalSecret reads: {unread}"


def test_the_runbooks_use_the_names_the_gateway_and_cleanup_use() -> None:
    for name in (EXPERIMENT_FINALIZER, EXPERIMENT_UID_LABEL, LEFTOVERS_REASON, DELETING):
        assert f"{name}" in DOC, name
    assert workflow_id("<namespace>", "<name>", "<uid>") in DOC
