"""Observability injection: both transports deliver series labelled experiment=<name> to the hub's VictoriaMetrics."""

from __future__ import annotations

import asyncio

import pytest

from activities.deploy.argocd import deploy_applications
from activities.deploy.contracts import Layer
from activities.errors import ApplicationFailed
from api import names
from api.experiment import ExperimentSpec
from tests.activities.conftest import (
    Lab,
    application,
    create_experiment,
    deploy_input,
    gke_spec,
    provisioned,
    run,
)
from tests.fixtures.eventually import eventually_async

pytestmark = pytest.mark.kube


def observed_spec(transport: str) -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        gke_spec(
            [
                {
                    "name": "app",
                    "cluster": {"type": "gke"},
                    "components": [{"app": "hello-app"}],
                    "observability": {"enabled": True, "transport": transport},
                }
            ]
        )
    )


def has_series(lab: Lab, experiment: str) -> bool:
    found = lab.victoria_metrics.query(f'count(container_memory_working_set_bytes{{experiment="{experiment}"}})')
    return bool(found) and float(found[0]["value"][1]) > 0


@pytest.mark.asyncio
async def test_tailscale_transport_ships_metrics_through_the_egress(lab: Lab, kube_namespace: str) -> None:
    spec = observed_spec("tailscale")
    ref = create_experiment(lab, kube_namespace, spec.to_wire())
    ready = (await provisioned(lab, ref, spec))["app"]
    layers: list[Layer] = ["infra", "obs"]
    await asyncio.gather(
        *(run(deploy_applications, deploy_input(ref, spec, "app", ready, x), watches=lab.watches) for x in layers)
    )
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "workload"), watches=lab.watches)

    obs_app, workload_app = names.app_name(ref, "app", "obs"), names.app_name(ref, "app")
    sources = {s.get("chart") or s.get("path") for s in application(lab, obs_app)["spec"]["sources"]}
    assert sources == {"alloy", "components/observability/metrics-egress/k8s", None}  # None: the $values source
    assert application(lab, names.app_name(ref, "app", "infra"))["spec"]["sources"][0]["chart"] == "tailscale-operator"

    def pods() -> set[str]:
        found = lab.victoria_metrics.query(f'container_cpu_usage_seconds_total{{experiment="{ref.name}"}}')
        return {p["metric"]["pod"] for p in found}

    await eventually_async(lambda: {f"{workload_app}-hello-app-podinfo-0", f"{obs_app}-alloy-0"} <= pods())


@pytest.mark.asyncio
async def test_direct_transport_remote_writes_to_the_configured_hub_endpoint(
    lab: Lab, kube_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_DIRECT_WRITE_URL", f"{lab.victoria_metrics.url}/api/v1/write")
    spec = observed_spec("direct")
    ref = create_experiment(lab, kube_namespace, spec.to_wire())
    ready = (await provisioned(lab, ref, spec))["app"]
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "obs"), watches=lab.watches)
    await run(deploy_applications, deploy_input(ref, spec, "app", ready, "workload"), watches=lab.watches)

    [agent] = application(lab, names.app_name(ref, "app", "obs"))["spec"]["sources"][:1]
    assert {"name": "alloy.extraEnv[1].value", "value": f"{lab.victoria_metrics.url}/api/v1/write"} in agent["helm"][
        "parameters"
    ]
    await eventually_async(lambda: has_series(lab, ref.name))


@pytest.mark.asyncio
async def test_direct_transport_without_a_hub_endpoint_fails_clearly(
    lab: Lab, kube_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METRICS_DIRECT_WRITE_URL", raising=False)
    spec = observed_spec("direct")
    ref = create_experiment(lab, kube_namespace, spec.to_wire())
    ready = (await provisioned(lab, ref, spec))["app"]
    with pytest.raises(ApplicationFailed, match="METRICS_DIRECT_WRITE_URL"):
        await run(deploy_applications, deploy_input(ref, spec, "app", ready, "obs"), watches=lab.watches)
