"""One Experiment object, one set of resources, in the whole lab.

Two Experiments named ``foo`` in namespaces ``a`` and ``b`` run at the same time and both Complete;
neither's cleanup touches the other's claim, Applications, Workflow, namespace or results. A
re-created namesake gets its own results prefix and the earlier run's summary.json stays.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from api.names import RESULTS_BUCKET
from tests.fixtures.eventually import eventually
from tests.resilience.conftest import RESTARTING, ResilienceLab

UID_LABEL = "experiments.illm.io/experiment-uid"
HUB_KINDS = "gkeclusters.illm.io,applications.argoproj.io,workflows.argoproj.io,secrets,namespaces"


def ensure_namespace(lab: ResilienceLab, name: str) -> None:
    try:
        client.CoreV1Api(lab.api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def create_named(lab: ResilienceLab, namespace: str, name: str) -> str:
    """The hello-app scenario as ``namespace/name`` (a fixed name, no generateName); returns its uid."""
    ensure_namespace(lab, namespace)
    body = lab.experiment_body(name, duration="6s")
    body["metadata"].pop("generateName")
    body["metadata"] |= {"name": name, "namespace": namespace}
    created: Any = lab.custom.create_namespaced_custom_object(
        "experiments.illm.io", "v1alpha1", namespace, "experiments", body
    )
    return str(created["metadata"]["uid"])


def experiment(lab: ResilienceLab, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found: Any = lab.custom.get_namespaced_custom_object(
            "experiments.illm.io", "v1alpha1", namespace, "experiments", name
        )
        return dict(found)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def wait_complete(lab: ResilienceLab, namespace: str, name: str, uid: str, timeout: float = 300) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        obj = experiment(lab, namespace, name) or {}
        status = obj.get("status") or {}
        same = (obj.get("metadata") or {}).get("uid") == uid
        finished = status.get("phase") in ("Complete", "Failed") and status.get("resourcesCleaned") is not None
        return status if same and finished else None

    status: dict[str, Any] = eventually(
        done, timeout, f"{namespace}/{name} finished with cleanup done", tolerate=RESTARTING
    )
    assert status["phase"] == "Complete", status.get("conditions")
    return status


def owned(lab: ResilienceLab, uid: str) -> set[str]:
    """Every claim, Application, Workflow, Secret and namespace on the hub carrying this uid."""
    return set(lab.kubectl("get", HUB_KINDS, "-A", "-l", f"{UID_LABEL}={uid}", "-o", "name").split())


def summary(lab: ResilienceLab, results_url: str) -> dict[str, Any]:
    s3 = lab.s3()
    bucket, _, prefix = results_url.removeprefix("s3://").partition("/")
    assert bucket == RESULTS_BUCKET
    body = s3.get_object(Bucket=bucket, Key=f"{prefix}summary.json")["Body"].read()
    return dict(json.loads(body))


def test_twins_named_foo_in_two_namespaces_both_complete_and_never_touch_each_other(lab: ResilienceLab) -> None:
    uid_a, uid_b = create_named(lab, "a", "foo"), create_named(lab, "b", "foo")

    both_live: set[str] = set()

    def both_deployed() -> bool:  # each twin has its claim, Applications and namespace at the same time
        mine, theirs = owned(lab, uid_a), owned(lab, uid_b)
        both_live.update(mine | theirs)
        assert not mine & theirs
        return all(sum(o.startswith("application") for o in objs) >= 2 for objs in (mine, theirs))

    eventually(both_deployed, 180, "both twins deployed at once", tolerate=RESTARTING)
    status_a = wait_complete(lab, "a", "foo", uid_a)
    status_b = wait_complete(lab, "b", "foo", uid_b)

    assert status_a["resultsURL"] != status_b["resultsURL"]
    assert summary(lab, status_a["resultsURL"])["uid"] == uid_a
    assert summary(lab, status_b["resultsURL"])["uid"] == uid_b
    assert status_a["resourcesCleaned"] is True and status_b["resourcesCleaned"] is True
    eventually(
        lambda: not owned(lab, uid_a) and not owned(lab, uid_b), 60, "nothing of either twin left", tolerate=RESTARTING
    )
    claims = {name: uids for name, uids in lab.claims.created("foo").items()}
    assert len(claims) == 2 and all(len(uids) == 1 for uids in claims.values()), claims


def test_a_recreated_experiment_keeps_the_earlier_runs_results(lab: ResilienceLab) -> None:
    first_uid = create_named(lab, "a", "again")
    first = wait_complete(lab, "a", "again", first_uid)
    lab.custom.delete_namespaced_custom_object("experiments.illm.io", "v1alpha1", "a", "experiments", "again")
    eventually(lambda: experiment(lab, "a", "again") is None, 120, "the first `again` is gone", tolerate=RESTARTING)

    second_uid = create_named(lab, "a", "again")
    second = wait_complete(lab, "a", "again", second_uid)

    assert second["resultsURL"] != first["resultsURL"]
    assert summary(lab, first["resultsURL"])["uid"] == first_uid  # the earlier run's summary.json stayed
    assert summary(lab, second["resultsURL"])["uid"] == second_uid


def test_the_longest_experiment_and_target_names_run_to_complete(lab: ResilienceLab) -> None:
    """253 characters of metadata.name (dots included) and a 63-character target: every derived name fits."""
    name = ".".join(["observability-cost-tutorial-" + "a" * 35, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    ensure_namespace(lab, "a")
    body = lab.experiment_body("long", duration="4s")
    body["metadata"].pop("generateName")
    body["metadata"] |= {"name": name, "namespace": "a"}
    body["spec"]["targets"][0]["name"] = "t" * 63
    created: Any = lab.custom.create_namespaced_custom_object(
        "experiments.illm.io", "v1alpha1", "a", "experiments", body
    )

    status = wait_complete(lab, "a", name, created["metadata"]["uid"])

    [target] = status["targets"]
    assert len(target["clusterName"]) <= 63
    assert summary(lab, status["resultsURL"])["name"] == name
