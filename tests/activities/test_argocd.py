"""ArgoCD: registration, Applications per target and layer, health rules, idempotency and dependency order."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from activities.deploy.argocd import deploy_applications
from activities.deploy.component_sources import argocd_sources
from activities.errors import ApplicationFailed
from api import names
from api.component import Component
from api.experiment import ExperimentSpec
from tests.activities.conftest import (
    Lab,
    application,
    crash_after,
    create_experiment,
    deploy_input,
    gke_spec,
    observed_gke_app,
    provisioned,
    run,
)
from tests.fixtures.eventually import eventually_async

pytestmark = pytest.mark.kube


@pytest.mark.asyncio
async def test_hub_application_has_the_original_shape_plus_the_resources_finalizer(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec([{"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "hello-app"}]}])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = await provisioned(lab, ref, spec)

    deployed = await run(deploy_applications, deploy_input(ref, spec, "hub", ready["hub"]), watches=lab.watches)

    name = names.app_name(ref, "hub")
    app = application(lab, name)
    assert deployed.applications == [name]
    assert deployed.components == [f"ConfigMap/{name}-hello-app-podinfo"]
    assert app["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "experiment-operator",
        "experiments.illm.io/experiment": ref.name,
        "experiments.illm.io/experiment-uid": ref.uid,
        "experiments.illm.io/target": "hub",
    }
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert app["spec"]["project"] == "experiments"
    assert app["spec"]["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": names.workload_namespace(ref),
    }
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["CreateNamespace=true", "ServerSideApply=true"]
    namespace_labels = app["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
    assert namespace_labels["pod-security.kubernetes.io/enforce"] == "baseline"  # hello-app declares nothing
    assert app["spec"]["sources"] == [
        {
            "repoURL": "https://stefanprodan.github.io/podinfo",
            "targetRevision": "6.7.1",
            "chart": "podinfo",
            "helm": {"releaseName": "hello-app", "parameters": [{"name": "ui.message", "value": "hello from the lab"}]},
        }
    ]


@pytest.mark.asyncio
async def test_remote_target_is_registered_and_deploys_infra_and_obs_before_workload(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec([observed_gke_app()])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = (await provisioned(lab, ref, spec))["app"]

    infra, obs = await asyncio.gather(
        run(deploy_applications, deploy_input(ref, spec, "app", ready, "infra"), watches=lab.watches),
        run(deploy_applications, deploy_input(ref, spec, "app", ready, "obs"), watches=lab.watches),
    )
    workload = await run(deploy_applications, deploy_input(ref, spec, "app", ready, "workload"), watches=lab.watches)

    assert [infra.applications, obs.applications, workload.applications] == [
        [names.app_name(ref, "app", "infra")],
        [names.app_name(ref, "app", "obs")],
        [names.app_name(ref, "app")],
    ]
    assert (
        application(lab, names.app_name(ref, "app", "obs"))["metadata"]["labels"]["experiments.illm.io/layer"] == "obs"
    )
    claim = names.claim_name(ref, "app")
    secret = lab.core().read_namespaced_secret(f"cluster-{claim}", "argocd")
    assert secret.metadata.labels == {
        "app.kubernetes.io/managed-by": "experiment-operator",
        "experiments.illm.io/experiment": ref.name,
        "experiments.illm.io/experiment-uid": ref.uid,
        "argocd.argoproj.io/secret-type": "cluster",
        "experiments.illm.io/cluster": claim,
    }
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert data["name"] == claim and data["server"] == f"https://{ready.endpoint}"
    # GKE: ArgoCD authenticates with its own Google identity; no credential is stored in the Secret.
    config = json.loads(data["config"])
    assert set(config) == {"tlsClientConfig", "execProviderConfig"}
    assert set(config["tlsClientConfig"]) == {"caData"}
    assert config["execProviderConfig"]["command"] == "argocd-k8s-auth" and config["execProviderConfig"]["args"] == [
        "gcp"
    ]
    [agent] = [
        s for s in application(lab, names.app_name(ref, "app", "obs"))["spec"]["sources"] if s.get("chart") == "alloy"
    ]
    assert {"name": "alloy.extraEnv[0].value", "value": ref.name} in agent["helm"]["parameters"]
    # Every layer: the project of provisioned clusters, and privileged, as metrics-agent (obs) declares it.
    for layer in ("infra", "obs", "workload"):
        app = application(lab, names.app_name(ref, "app", layer))
        assert app["spec"]["project"] == "experiment-clusters"
        labels = app["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


@pytest.mark.asyncio
async def test_applications_are_never_created_twice_when_the_worker_crashes(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec()
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = (await provisioned(lab, ref, spec))["app"]
    inp = deploy_input(ref, spec, "app", ready)

    def created() -> bool:
        try:
            return bool(application(lab, names.app_name(ref, "app")))
        except ApiException:
            return False

    await crash_after(deploy_applications, inp, created, watches=lab.watches)
    first = application(lab, names.app_name(ref, "app"))
    await run(deploy_applications, inp, watches=lab.watches)

    again = application(lab, names.app_name(ref, "app"))
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["spec"] == first["spec"]


@pytest.mark.asyncio
async def test_degraded_app_is_not_healthy_by_default_but_is_under_the_lenient_rule(
    lab: Lab, kube_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = gke_spec([{"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "hello-app"}]}])
    ref = create_experiment(lab, kube_namespace, doc, annotations={"labsim.illm.io/fault": "app-degraded"})
    spec = ExperimentSpec.model_validate(doc)
    inp = deploy_input(ref, spec, "hub", (await provisioned(lab, ref, spec))["hub"])

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(deploy_applications, inp, watches=lab.watches), timeout=3)
    assert application(lab, names.app_name(ref, "hub"))["status"]["health"]["status"] == "Degraded"

    monkeypatch.setenv("ARGOCD_HEALTH_RULE", "lenient")
    deployed = await asyncio.wait_for(run(deploy_applications, inp, watches=lab.watches), timeout=10)
    assert deployed.applications == [names.app_name(ref, "hub")]


@pytest.mark.asyncio
async def test_missing_component_fails_permanently_naming_it(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec([{"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "no-such-component"}]}])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    inp = deploy_input(ref, spec, "hub", (await provisioned(lab, ref, spec))["hub"])
    with pytest.raises(ApplicationFailed, match="no-such-component"):
        await run(deploy_applications, inp, watches=lab.watches)


@pytest.mark.asyncio
async def test_three_targets_deploy_in_dependency_order_with_cross_cluster_kubeconfigs(
    lab: Lab, kube_namespace: str
) -> None:
    doc = gke_spec(
        [
            {"name": "db", "cluster": {"type": "gke"}, "components": [{"app": "hello-app"}]},
            {"name": "app", "cluster": {"type": "eks"}, "components": [{"app": "metrics-app"}], "depends": ["db"]},
            {"name": "load", "cluster": {"type": "aks"}, "components": [{"app": "hello-app"}], "depends": ["app"]},
        ]
    )
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    ready = await provisioned(lab, ref, spec)
    healthy_at: dict[str, str] = {}
    created_at: dict[str, str] = {}

    async def deploy(target: str) -> None:  # the workflow's rule: wait for every dependency to be healthy
        deps = spec.target(target).depends or []  # type: ignore[union-attr]
        await eventually_async(lambda: all(d in healthy_at for d in deps), what=f"{deps} healthy", blocking=False)
        await run(deploy_applications, deploy_input(ref, spec, target, ready[target]), watches=lab.watches)
        app = application(lab, names.app_name(ref, target))
        created_at[target] = app["metadata"]["creationTimestamp"]
        healthy_at[target] = app["status"]["reconciledAt"]

    await asyncio.gather(*(deploy(t.name) for t in reversed(spec.targets)))

    assert created_at["db"] <= healthy_at["db"] <= created_at["app"] <= healthy_at["app"] <= created_at["load"]
    secrets = lab.core().list_namespaced_secret(names.workload_namespace(ref), label_selector=f"experiment={ref.name}")
    assert sorted(s.metadata.name for s in secrets.items) == [
        "app-cluster-kubeconfig",
        "db-cluster-kubeconfig",
        "load-cluster-kubeconfig",
    ]


@pytest.mark.asyncio
async def test_deleting_an_application_removes_its_workloads(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec([{"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "hello-app"}]}])
    ref = create_experiment(lab, kube_namespace, doc)
    spec = ExperimentSpec.model_validate(doc)
    await run(
        deploy_applications,
        deploy_input(ref, spec, "hub", (await provisioned(lab, ref, spec))["hub"]),
        watches=lab.watches,
    )
    selector = f"app.kubernetes.io/instance={names.app_name(ref, 'hub')}"
    assert lab.core().list_config_map_for_all_namespaces(label_selector=selector).items

    lab.custom().delete_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "argocd", "applications", names.app_name(ref, "hub")
    )

    await eventually_async(lambda: not lab.core().list_config_map_for_all_namespaces(label_selector=selector).items)


def test_params_reach_git_path_sources_in_a_stable_order() -> None:
    component = Component.model_validate(
        {
            "metadata": {"name": "nginx"},
            "spec": {
                "type": "app",
                "sources": [
                    {"repoURL": "https://example.com/charts.git", "path": "bitnami/nginx"},
                    {
                        "repoURL": "https://charts.example.com",
                        "chart": "nginx",
                        "targetRevision": "1.0.0",
                        "helm": {"parameters": [{"name": "z", "value": "1"}, {"name": "a", "value": "2"}]},
                    },
                ],
            },
        }
    )
    sources: list[dict[str, Any]] = argocd_sources(component, {"b": "x", "z": "9", "a2": "y"})

    assert sources[0] == {
        "repoURL": "https://example.com/charts.git",
        "targetRevision": "HEAD",
        "path": "bitnami/nginx",
        "helm": {
            "parameters": [{"name": "a2", "value": "y"}, {"name": "b", "value": "x"}, {"name": "z", "value": "9"}]
        },
    }
    assert sources[1]["helm"]["parameters"] == [
        {"name": "z", "value": "9"},
        {"name": "a", "value": "2"},
        {"name": "a2", "value": "y"},
        {"name": "b", "value": "x"},
    ]
