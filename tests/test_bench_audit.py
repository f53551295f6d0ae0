"""bench.audit: who made each API request of a run, read from the API server's audit log (JSON lines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.audit import CONTROL_PLANE, HUB, SCRIPT, SIMULATED, attribute, source_of, workload_namespaces

EXPERIMENT = {"metadata": {"namespace": "bench", "name": "hello-7", "uid": "0b9c2d6e-1111-4222-8333-444455556666"}}
WORKLOAD = next(iter(workload_namespaces([EXPERIMENT])))
BEGAN = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def event(
    user: str = "admin",
    verb: str = "get",
    resource: str = "experiments",
    namespace: str | None = "bench",
    name: str | None = "hello-7",
    subresource: str | None = None,
    agent: str = "Python/3.11 kubernetes",
    at: datetime = BEGAN + timedelta(seconds=1),
) -> dict[str, Any]:
    ref: dict[str, Any] = {"resource": resource}
    if namespace:
        ref["namespace"] = namespace
    if name:
        ref["name"] = name
    if subresource:
        ref["subresource"] = subresource
    return {
        "kind": "Event",
        "level": "Metadata",
        "stage": "ResponseComplete",
        "requestURI": f"/apis/x/{resource}",
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "userAgent": agent,
        "objectRef": ref,
        "requestReceivedTimestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_the_workload_namespace_is_the_experiments_own() -> None:
    assert WORKLOAD.startswith("hello-7-")
    other = {"metadata": {**EXPERIMENT["metadata"], "uid": "ffffffff-1111-4222-8333-444455556666"}}
    assert workload_namespaces([other]) != {WORKLOAD}  # re-created: another namespace


def test_each_request_has_one_source() -> None:
    workloads = {WORKLOAD}
    # The worker, the gateway and the simulator's hub-side controllers all use the admin identity.
    assert source_of(event(), workloads) == HUB
    # A cloud identity (the worker on its target) is a real cluster's API server's work, wherever it goes.
    assert (
        source_of(event(user="gke:worker@lab.iam", resource="secrets", namespace="kube-system"), workloads) == SIMULATED
    )
    # Anything in, or on, an experiment's workload namespace, by anyone.
    assert source_of(event(resource="configmaps", namespace=WORKLOAD), workloads) == SIMULATED
    assert source_of(event(verb="delete", resource="namespaces", namespace=None, name=WORKLOAD), workloads) == SIMULATED
    gc = event(user="system:serviceaccount:kube-system:namespace-controller", resource="pods", namespace=WORKLOAD)
    assert source_of(gc, workloads) == SIMULATED
    # The control plane elsewhere: the namespace controller's discovery (with the lab's admin identity)
    # and the API server's own lease; and this script's own creates and watch.
    kcm = "kube-controller-manager/v1.36.3 (linux/amd64) kubernetes/abc/namespace-controller"
    discovery = event(verb="get", resource="", namespace=None, name=None, agent=kcm)
    del discovery["objectRef"]
    assert source_of(discovery, workloads) == CONTROL_PLANE
    assert (
        source_of(event(user="system:apiserver", resource="leases", namespace="kube-system"), workloads)
        == CONTROL_PLANE
    )
    assert source_of(event(verb="create", agent="bench"), workloads) == SCRIPT


def test_a_run_is_counted_by_source_and_kind_within_its_window(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    rotated = tmp_path / "audit-2026-12-01T01-00-30.000.log"  # lumberjack's name for what it rotated out
    rotated.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                event(at=BEGAN - timedelta(seconds=5)),  # before the run: not counted
                event(verb="patch", subresource="status"),
                event(verb="watch", resource="applications", name=None),
            )
        )
        + "\n"
    )
    log.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                event(verb="patch", subresource="status"),
                event(verb="create", agent="bench"),
                event(verb="list", resource="secrets", namespace=WORKLOAD, name=None),
                event(at=BEGAN + timedelta(minutes=5)),  # after it: not counted
            )
        )
        + "\n"
    )

    counts = attribute(log, BEGAN, BEGAN + timedelta(minutes=1), {WORKLOAD})

    assert list(counts) == [HUB, CONTROL_PLANE, SIMULATED, SCRIPT]
    assert counts[HUB] == {"PATCH experiments/status": 2, "WATCH applications": 1}
    assert counts[SIMULATED] == {"LIST secrets": 1}
    assert counts[SCRIPT] == {"POST experiments": 1}
    assert counts[CONTROL_PLANE] == {}
