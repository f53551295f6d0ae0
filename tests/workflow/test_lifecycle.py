"""Workflow mode end to end, history size, validation, deadlines, partial provisioning, depends."""

from __future__ import annotations

import pytest

from activities.clusters.contracts import DISCOVER_TUTORIAL_SERVICES, PROVISION_CLUSTER
from activities.contracts import CLEANUP_EXPERIMENT, DELETE_EXPERIMENT, ValidationProblem
from activities.deploy.contracts import DEPLOY_APPLICATIONS
from activities.results.contracts import STORE_RESULTS
from activities.run.contracts import SUBMIT_ARGO_WORKFLOW, ArgoWorkflowPhase
from api.experiment import ExperimentPhase
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from workflows import status as st

pytestmark = pytest.mark.asyncio(loop_scope="session")

TWO_TARGETS = [
    {
        "name": "app",
        "cluster": {"type": "gke"},
        "components": [{"app": "hello-app"}],
        "observability": {"enabled": True, "transport": "tailscale"},
    },
    {"name": "loadgen", "cluster": {"type": "gke"}, "components": [{"app": "k6"}], "depends": ["app"]},
]


async def test_hello_app_completes_cleans_up_and_stays_under_200_events(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0)) as run:
        outcome = await run.result()
        status = await run.status()
        events = await run.events()
    print(f"\nhello-app history: {events} events")
    assert outcome.phase == ExperimentPhase.COMPLETE
    assert status.phase == ExperimentPhase.COMPLETE
    assert [t.phase for t in status.timeline or []] == ["Pending", "Provisioning", "Ready", "Running", "Complete"]
    assert status.resources_cleaned is True
    assert status.condition(st.READY).status == "True"  # type: ignore[union-attr]
    assert status.targets and status.targets[0].deployed_layers == ["infra", "obs", "workload"]
    assert lab.claims == set() and lab.apps == set() and lab.argo_workflows == set()
    sequences = [s.sequence for s in lab.statuses]
    assert sequences == sorted(set(sequences))
    assert lab.statuses[-1].status == status
    assert lab.called(SUBMIT_ARGO_WORKFLOW) == [
        "app-endpoint=10.0.0.1,app-name=app,experiment-name=hello-app-x1,target-endpoint=10.0.0.1,target-name=app"
    ]
    assert events < 200


async def test_invalid_spec_fails_before_anything_is_provisioned(env) -> None:
    lab = FakeLab(problems=[ValidationProblem(field="spec.targets[0].components[0].app", message="unknown", fix="x")])
    async with running(env, lab, spec(ttl_days=0)) as run:
        outcome = await run.result()
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "InvalidSpec"
    assert "spec.targets[0].components[0].app" in outcome.message
    assert lab.called(PROVISION_CLUSTER) == [] and lab.called(CLEANUP_EXPERIMENT) == []


async def test_phase_deadline_fails_the_experiment_naming_what_it_waited_for(env) -> None:
    lab = FakeLab(hang_clusters={"app"})
    async with running(env, lab, spec(ttl_days=0, deadlines={"provisioning": "20m"})) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.FAILED
    assert outcome.reason == "DeadlineExceeded"
    assert "provisioning deadline of 20m exceeded while waiting for cluster hello-app-x1-app" in outcome.message
    assert status.condition(st.PROVISIONED).reason == "DeadlineExceeded"  # type: ignore[union-attr]
    assert lab.called(CLEANUP_EXPERIMENT) == ["app"] and lab.claims == set()


async def test_failed_provisioning_of_one_of_two_targets_fails_and_cleans_up_both(env) -> None:
    lab = FakeLab(reject_clusters={"loadgen"})
    async with running(env, lab, spec(ttl_days=0, targets=TWO_TARGETS)) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "ProvisioningFailed"
    assert "quota exceeded" in outcome.message
    assert {t.name: t.phase for t in status.targets or []}["loadgen"] == "Failed"
    assert lab.called(CLEANUP_EXPERIMENT) == ["app,loadgen"]
    assert lab.claims == set() and lab.called(SUBMIT_ARGO_WORKFLOW) == []


async def test_depends_deploys_loadgen_only_after_app_is_healthy(env) -> None:
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, targets=TWO_TARGETS)) as run:
        outcome = await run.result()
    deploys = lab.called(DEPLOY_APPLICATIONS)
    assert outcome.phase == ExperimentPhase.COMPLETE
    assert deploys.index("loadgen/workload") > deploys.index("app/workload")
    assert deploys.index("app/workload") > max(deploys.index("app/infra"), deploys.index("app/obs"))


async def test_failed_argo_workflow_fails_and_on_success_policy_keeps_clusters_until_ttl(env) -> None:
    lab = FakeLab(argo_phase=ArgoWorkflowPhase.FAILED)
    async with running(env, lab, spec(ttl_days=2, cleanup_policy="OnSuccess")) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "ArgoWorkflowFailed"
    assert "ended Failed: step load failed" in outcome.message
    assert lab.called(STORE_RESULTS) == ["Failed"]
    names = [n for n, _ in lab.calls]
    assert names.index(CLEANUP_EXPERIMENT) > names.index(STORE_RESULTS)
    assert names[-2:] == [CLEANUP_EXPERIMENT, DELETE_EXPERIMENT]  # kept until the TTL, then deleted
    retained = [
        s for s in lab.statuses if (cond := s.status.condition(st.CLEANUP)) and cond.reason == "RetainedForDebugging"
    ]
    assert retained and status.resources_cleaned is True


async def test_a_depends_cycle_fails_validation_before_anything_is_provisioned(env) -> None:
    cyclic = [{**TWO_TARGETS[0], "depends": ["loadgen"]}, TWO_TARGETS[1]]
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0, targets=cyclic)) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.FAILED and outcome.reason == "InvalidSpec"
    assert "spec.targets depends has a cycle: app → loadgen → app" in outcome.message
    assert status.condition(st.VALIDATED).reason == "InvalidSpec"  # type: ignore[union-attr]
    assert lab.called(PROVISION_CLUSTER) == [] and lab.called(CLEANUP_EXPERIMENT) == []


async def test_tutorial_services_are_discovered_before_the_argo_workflow(env) -> None:
    lab = FakeLab()
    tutorial = {"services": [{"name": "grafana", "target": "app", "service": "grafana", "namespace": "monitoring"}]}
    async with running(env, lab, spec(ttl_days=0, tutorial=tutorial)) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE
    names = [name for name, _ in lab.calls]
    assert names.index(DISCOVER_TUTORIAL_SERVICES) < names.index(SUBMIT_ARGO_WORKFLOW)
    services = status.tutorial_status.services if status.tutorial_status else None
    assert services and services[0].name == "grafana" and services[0].ready
