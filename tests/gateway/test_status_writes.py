"""Status reports on the real API server: each report merges into the object the previous write returned,
without reading it again, and a kept copy that has gone stale (an edit, another replica's write) never
decides anything: the write is refused (409) and retried from a fresh read. Request counts are the API
server's own (``apiserver_request_total``)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client
from temporalio.testing import ActivityEnvironment

from activities.contracts import ExperimentRef, ReportStatusInput
from api.base import API_GROUP, API_VERSION
from api.experiment import ExperimentPhase, ExperimentStatus
from crd_gateway.kube import KubeApi
from crd_gateway.ratelimit import RateLimiter
from crd_gateway.status_writer import StatusWriter
from tests.fixtures.kube import KubeCluster
from tests.gateway.conftest import PLURAL, manifest

pytestmark = pytest.mark.kube


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def writer(kube: KubeCluster, pool: ThreadPoolExecutor, identity: str) -> StatusWriter:
    """A gateway replica's status writer, alone (no controller, no watch: only the reports' requests)."""
    api = KubeApi(kube.api_client(), pool, 30.0, RateLimiter("kube_writes", 100.0, 100))
    return StatusWriter(api, "default", None, identity, lambda _key: None)


def create(kube: KubeCluster, namespace: str) -> tuple[client.CustomObjectsApi, ExperimentRef]:
    custom = client.CustomObjectsApi(kube.api_client())
    obj: Any = custom.create_namespaced_custom_object(API_GROUP, API_VERSION, namespace, PLURAL, manifest())
    meta = obj["metadata"]
    ref = ExperimentRef(
        namespace=namespace,
        name=meta["name"],
        uid=meta["uid"],
        generation=meta["generation"],
        creation_timestamp=datetime.fromisoformat(meta["creationTimestamp"]),
    )
    return custom, ref


async def report(to: StatusWriter, ref: ExperimentRef, sequence: int, phase: ExperimentPhase) -> None:
    inp = ReportStatusInput(experiment=ref, sequence=sequence, status=ExperimentStatus(phase=phase))
    await ActivityEnvironment().run(to.report_status, inp)


def stored_status(custom: client.CustomObjectsApi, ref: ExperimentRef) -> tuple[str, int]:
    obj: Any = custom.get_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, ref.name)
    return obj["status"]["phase"], obj["status"]["reportSequence"]


@pytest.mark.asyncio
async def test_reports_after_the_first_write_without_reading_the_experiment(
    kube: KubeCluster, kube_namespace: str, pool: ThreadPoolExecutor
) -> None:
    custom, ref = create(kube, kube_namespace)
    gateway = writer(kube, pool, "replica-a")
    before = kube.requests()

    phases = [ExperimentPhase.PROVISIONING, ExperimentPhase.READY, ExperimentPhase.RUNNING]
    for sequence, phase in enumerate(phases, start=1):
        await report(gateway, ref, sequence, phase)

    assert kube.requests_since(before, "GET experiments", "PUT experiments/status") == {
        "GET experiments": 1,
        "PUT experiments/status": 3,
    }
    assert stored_status(custom, ref) == ("Running", 3)


@pytest.mark.asyncio
async def test_the_first_report_merges_into_what_the_finalizer_patch_returned(
    kube: KubeCluster, kube_namespace: str, pool: ThreadPoolExecutor
) -> None:
    custom, ref = create(kube, kube_namespace)
    gateway = writer(kube, pool, "replica-a")
    created: Any = custom.get_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, ref.name)
    before = kube.requests()

    patched = await gateway.kube.add_finalizer(created)
    assert patched is not None
    gateway.remember(patched)
    await report(gateway, ref, 1, ExperimentPhase.PROVISIONING)

    assert kube.requests_since(before, "GET experiments", "PATCH experiments", "PUT experiments/status") == {
        "GET experiments": 0,
        "PATCH experiments": 1,
        "PUT experiments/status": 1,
    }
    assert stored_status(custom, ref) == ("Provisioning", 1)
    assert await gateway.kube.add_finalizer(patched) is None  # it has the finalizer: nothing written


@pytest.mark.asyncio
async def test_a_stale_kept_copy_is_refused_and_the_report_merges_into_what_is_stored(
    kube: KubeCluster, kube_namespace: str, pool: ThreadPoolExecutor
) -> None:
    custom, ref = create(kube, kube_namespace)
    replica_a, replica_b = writer(kube, pool, "replica-a"), writer(kube, pool, "replica-b")
    await report(replica_a, ref, 1, ExperimentPhase.PROVISIONING)

    # A label edit and a newer report written by another replica: replica A's copy is stale twice over.
    patch = {"metadata": {"labels": {"team": "perf"}}}
    custom.patch_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, ref.name, patch)
    await report(replica_b, ref, 5, ExperimentPhase.RUNNING)

    await report(replica_a, ref, 4, ExperimentPhase.READY)  # older than what B wrote: dropped
    assert stored_status(custom, ref) == ("Running", 5)
    await report(replica_a, ref, 6, ExperimentPhase.COMPLETE)
    assert stored_status(custom, ref) == ("Complete", 6)
    obj: Any = custom.get_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, ref.name)
    assert obj["metadata"]["labels"] == {"team": "perf"}


@pytest.mark.asyncio
async def test_a_report_for_a_replaced_namesake_writes_nothing(
    kube: KubeCluster, kube_namespace: str, pool: ThreadPoolExecutor
) -> None:
    custom, ref = create(kube, kube_namespace)
    gateway = writer(kube, pool, "replica-a")
    await report(gateway, ref, 1, ExperimentPhase.PROVISIONING)
    custom.delete_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, ref.name)
    body = manifest()
    body["metadata"] = {"name": ref.name}
    custom.create_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, body)

    await report(gateway, ref, 2, ExperimentPhase.READY)

    namesake: Any = custom.get_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, PLURAL, ref.name)
    assert namesake["metadata"]["uid"] != ref.uid and "status" not in namesake
