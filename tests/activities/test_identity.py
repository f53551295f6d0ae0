"""One Experiment object, one set of resources: twins named alike in two namespaces never touch each other.

Both provision, deploy and submit at the same time against the real API server (the simulator plays
Crossplane, ArgoCD and Argo); cleaning one up deletes only what carries its uid label.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from activities.cleanup import cleanup_experiment
from activities.contracts import CleanupInput, CleanupTarget, ExperimentRef
from activities.deploy.argocd import deploy_applications
from activities.kube import EXPERIMENT_LABEL, EXPERIMENT_UID_LABEL
from activities.run.argo_workflows import submit_argo_workflow
from activities.run.contracts import SubmitArgoWorkflowInput
from api import names
from api.experiment import ExperimentSpec
from tests.activities.conftest import Lab, create_experiment, deploy_input, gke_spec, provisioned, run

pytestmark = pytest.mark.kube


@pytest.fixture
def twin_namespaces(lab: Lab) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    pair = (f"a-{suffix}", f"b-{suffix}")
    core = lab.core()
    for namespace in pair:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    yield pair
    for namespace in pair:
        core.delete_namespace(namespace)


def spec() -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        gke_spec(
            [
                {"name": "app", "cluster": {"type": "gke"}, "components": [{"app": "hello-app"}]},
                {"name": "hub", "cluster": {"type": "hub"}, "components": [{"app": "hello-app"}]},
            ],
            tutorial={"exposeKubeconfig": True},
        )
    )


def owned(lab: Lab, ref: ExperimentRef) -> set[str]:
    """Every object on the hub carrying the Experiment's uid label, as ``kind/namespace/name``."""
    selector = f"{EXPERIMENT_UID_LABEL}={ref.uid}"
    kinds = "applications.argoproj.io,workflows.argoproj.io,gkeclusters.illm.io,secrets,namespaces"
    out = lab.kube.kubectl("get", kinds, "-A", "-l", selector, "-o", "name", check=True).stdout
    return set(out.split())


async def bring_up(lab: Lab, ref: ExperimentRef, the_spec: ExperimentSpec) -> None:
    ready = await provisioned(lab, ref, the_spec)
    await asyncio.gather(
        run(deploy_applications, deploy_input(ref, the_spec, "app", ready["app"]), watches=lab.watches),
        run(deploy_applications, deploy_input(ref, the_spec, "hub", ready["hub"]), watches=lab.watches),
    )
    submit = SubmitArgoWorkflowInput(experiment=ref, template="experiment-lifecycle", mode="workflow", parameters={})
    await run(submit_argo_workflow, submit)


def cleanup_input(ref: ExperimentRef, the_spec: ExperimentSpec) -> CleanupInput:
    targets = [
        CleanupTarget(
            name=t.name, cluster_type=t.cluster.type, cluster_name=names.cluster_name(ref, t.name, t.cluster.type)
        )
        for t in the_spec.targets
    ]
    return CleanupInput(experiment=ref, targets=targets)


@pytest.mark.asyncio
async def test_twins_in_two_namespaces_share_nothing_and_cleanup_spares_the_other(
    lab: Lab, twin_namespaces: tuple[str, str]
) -> None:
    the_spec = spec()
    first, second = (create_experiment(lab, ns, the_spec.to_wire(), name="foo") for ns in twin_namespaces)
    await asyncio.gather(bring_up(lab, first, the_spec), bring_up(lab, second, the_spec))

    mine, theirs = owned(lab, first), owned(lab, second)
    assert not mine & theirs
    for objects in (mine, theirs):  # claim, 2 Applications, Workflow, cluster Secret, kubeconfig Secret, namespace
        kinds = sorted(o.split("/")[0] for o in objects)
        assert kinds.count("application.argoproj.io") == 2 and "workflow.argoproj.io" in kinds, objects
        assert "gkecluster.illm.io" in kinds and "namespace" in kinds and kinds.count("secret") >= 2, objects
    app = lab.custom().get_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "argocd", "applications", names.app_name(second, "app")
    )
    assert app["metadata"]["labels"][EXPERIMENT_LABEL] == "foo"  # what the original promised tools, kept
    assert app["spec"]["destination"]["namespace"] == names.workload_namespace(second)

    report = await run(cleanup_experiment, cleanup_input(first, the_spec), watches=lab.watches)

    assert report.not_deleted == []
    assert owned(lab, first) == set()
    assert owned(lab, second) == theirs  # the twin still has every object it had
    await run(cleanup_experiment, cleanup_input(second, the_spec), watches=lab.watches)
    assert owned(lab, second) == set()
