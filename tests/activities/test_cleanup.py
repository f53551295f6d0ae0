"""Cleanup: after a full run nothing labelled with the experiment is left anywhere on the hub; retries are harmless."""

from __future__ import annotations

import asyncio

import pytest

from activities.cleanup import cleanup_experiment
from activities.contracts import CleanupInput, CleanupReport, CleanupTarget, ExperimentRef
from activities.deploy.argocd import deploy_applications
from activities.run.argo_workflows import submit_argo_workflow
from activities.run.contracts import SubmitArgoWorkflowInput
from api import names
from api.experiment import ExperimentSpec
from tests.activities.conftest import Lab, create_experiment, deploy_input, gke_spec, observed_gke_app, provisioned, run

pytestmark = pytest.mark.kube


def labelled_anywhere(lab: Lab, experiment: str) -> list[str]:
    """Every object of every listable kind on the hub that carries the experiment's label (either spelling)."""
    kinds = lab.kube.kubectl("api-resources", "--verbs=list", "-o", "name", check=True).stdout.split()
    kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
    found = []
    for label in (f"experiments.illm.io/experiment={experiment}", f"experiment={experiment}"):
        out = lab.kube.kubectl("get", ",".join(kinds), "-A", "-l", label, "-o", "name", check=True).stdout
        found += out.split()
    return found


def full_spec() -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        gke_spec(
            [
                observed_gke_app(),
                {"name": "load", "cluster": {"type": "eks"}, "components": [{"app": "hello-app"}], "depends": ["app"]},
                {"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "metrics-app"}]},
            ],
            tutorial={"exposeKubeconfig": True},
        )
    )


def cleanup_input(ref: ExperimentRef, spec: ExperimentSpec) -> CleanupInput:
    targets = [
        CleanupTarget(
            name=t.name,
            cluster_type=t.cluster.type,
            cluster_name=names.cluster_name(ref, t.name, t.cluster.type),
        )
        for t in spec.targets
    ]
    return CleanupInput(experiment=ref, targets=targets)


@pytest.mark.asyncio
async def test_cleanup_leaves_nothing_labelled_with_the_experiment_on_the_hub(lab: Lab, kube_namespace: str) -> None:
    spec = full_spec()
    ref = create_experiment(lab, kube_namespace, spec.to_wire())
    ready = await provisioned(lab, ref, spec)
    deploys = [
        deploy_input(ref, spec, "app", ready["app"], "infra"),
        deploy_input(ref, spec, "app", ready["app"], "obs"),
        deploy_input(ref, spec, "app", ready["app"], "workload"),
        deploy_input(ref, spec, "load", ready["load"]),
        deploy_input(ref, spec, "hub", ready["hub"]),
    ]
    await asyncio.gather(*(run(deploy_applications, d, watches=lab.watches) for d in deploys))
    await run(
        submit_argo_workflow,
        SubmitArgoWorkflowInput(experiment=ref, template="experiment-lifecycle", mode="manual", parameters={}),
    )
    before = labelled_anywhere(lab, ref.name)
    assert len(before) > 8, before

    report = await run(cleanup_experiment, cleanup_input(ref, spec), watches=lab.watches)

    assert report.not_deleted == []
    claim, namespace = names.claim_name(ref, "app"), names.workload_namespace(ref)
    assert f"GKECluster/{claim}" in report.deleted and f"Namespace/{namespace}" in report.deleted
    assert f"Workflow/{names.argo_workflow_name(ref)}" in report.deleted
    assert labelled_anywhere(lab, ref.name) == []
    tracked = lab.core().list_config_map_for_all_namespaces(label_selector="app.kubernetes.io/instance")
    assert not [cm for cm in tracked.items if cm.metadata.name.startswith(ref.name)]

    again = await run(cleanup_experiment, cleanup_input(ref, spec), watches=lab.watches)  # a retry finds nothing to do
    assert again == CleanupReport()


@pytest.mark.asyncio
async def test_a_provisioned_clusters_workload_namespace_goes_with_the_cluster(lab: Lab, kube_namespace: str) -> None:
    """Cleanup deletes namespaces on the hub only for a hub target; a provisioned cluster's go when it is
    deleted (labsim plays that: its clusters are the hub) and the cleanup still ends with nothing left."""
    spec = ExperimentSpec.model_validate(gke_spec())
    ref = create_experiment(lab, kube_namespace, spec.to_wire())
    ready = await provisioned(lab, ref, spec)
    await run(deploy_applications, deploy_input(ref, spec, "app", ready["app"]), watches=lab.watches)
    namespace = names.workload_namespace(ref)
    assert lab.core().read_namespace(namespace).metadata.labels[names.EXPERIMENT_UID_LABEL] == ref.uid

    report = await run(cleanup_experiment, cleanup_input(ref, spec), watches=lab.watches)

    assert report.not_deleted == []
    assert f"GKECluster/{names.claim_name(ref, 'app')}" in report.deleted
    assert not [what for what in report.deleted if what.startswith("Namespace/")]
    assert labelled_anywhere(lab, ref.name) == []
