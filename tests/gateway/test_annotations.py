"""Human inputs as annotations: review approved/rejected and complete=true, each applied once."""

from __future__ import annotations

import pytest

from api.experiment import COMPLETE_ANNOTATION, REVIEW_ANNOTATION
from tests.fixtures.eventually import eventually_async
from tests.gateway.conftest import Cluster, Gateways, manifest
from tests.workflow.fakes import FakeLab

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.kube]


def condition(cluster: Cluster, name: str, type_: str) -> dict[str, str] | None:
    obj = cluster.get(name) or {}
    return next((x for x in obj.get("status", {}).get("conditions", []) if x["type"] == type_), None)


def status_field(cluster: Cluster, name: str, field: str) -> object:
    return ((cluster.get(name) or {}).get("status") or {}).get(field)


async def test_complete_annotation_ends_a_manual_experiment(cluster: Cluster, gateways: Gateways, lab: FakeLab) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    body = manifest(workflow={"template": "hello-app", "completion": {"mode": "manual"}})
    name = cluster.create(body)["metadata"]["name"]
    await eventually_async(lambda: cluster.phase(name) == "Running", timeout=30)
    cluster.annotate(name, {COMPLETE_ANNOTATION: "true"})
    await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=30)
    request = condition(cluster, name, "CompleteRequest")
    assert request is not None and (request["status"], request["reason"]) == ("True", "Accepted")
    assert request["message"].startswith("experiments.illm.io/complete=true: completion of")

    cluster.annotate(name, {"unrelated": "touch"})  # a later event does not re-send it
    await eventually_async(lambda: (cluster.get(name) or {})["metadata"]["annotations"].get("unrelated"))
    again = condition(cluster, name, "CompleteRequest")
    assert again == request


@pytest.mark.parametrize(
    ("value", "phase", "pr_state"), [("approved", "Approved", "merged"), ("rejected", "Rejected", "closed")]
)
async def test_review_annotation_decides_the_review_gate(
    cluster: Cluster, gateways: Gateways, lab: FakeLab, value: str, phase: str, pr_state: str
) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    name = cluster.create(manifest(publish=True))["metadata"]["name"]
    await eventually_async(lambda: status_field(cluster, name, "reviewPhase") == "Pending", timeout=30)
    cluster.annotate(name, {REVIEW_ANNOTATION: value})
    await eventually_async(lambda: status_field(cluster, name, "reviewPhase") == phase, timeout=30)
    request = condition(cluster, name, "ReviewRequest")
    assert request is not None and (request["status"], request["reason"]) == ("True", "Accepted")
    assert request["message"].startswith(f"experiments.illm.io/review={value}: ")
    pr = status_field(cluster, name, "publishPRNumber")
    assert lab.prs[pr] == pr_state  # type: ignore[index]


async def test_refused_and_invalid_annotations_are_explained_in_conditions(
    cluster: Cluster, gateways: Gateways, lab: FakeLab
) -> None:
    gateway = await gateways.start()
    await gateways.leading(gateway)
    name = cluster.create(manifest(ttlDays=1))["metadata"]["name"]  # not published: there is no review
    await eventually_async(lambda: cluster.phase(name) == "Complete", timeout=30)
    cluster.annotate(name, {REVIEW_ANNOTATION: "approved", COMPLETE_ANNOTATION: "yes"})
    review = await eventually_async(lambda: condition(cluster, name, "ReviewRequest"), timeout=20)
    assert (review["status"], review["reason"]) == ("False", "Refused")
    assert "does not publish results" in review["message"]
    complete = await eventually_async(lambda: condition(cluster, name, "CompleteRequest"), timeout=20)
    assert (complete["status"], complete["reason"]) == ("False", "InvalidValue")
