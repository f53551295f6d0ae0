"""The shared hub watches (activities/watches.py) against the real kube-apiserver: waiters are woken by
watch events, a watch the server ends is resumed, a compacted version is listed again, and many waiters
share one watch.

The informer's label index and label listeners are checked on the same objects (relabelled, deleted,
listed again after an API-server restart).

The objects are ConfigMaps labelled as ours in the test's namespace, which no simulator touches, so
every change is the test's own. The safety-net re-read is set to 300 s: within a test only the watch
can wake a waiter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from temporalio.testing import ActivityEnvironment

from activities.kube import MANAGED_BY
from activities.settings import ActivitySettings
from activities.watches import HubWatches, Kind, Obj, Waiting
from runtime.informer import Informer, Key
from tests.fixtures.eventually import eventually_async
from tests.fixtures.kube import KubeCluster

pytestmark = pytest.mark.asyncio
DEADLINE = 60.0
"""Far below the 300 s safety net: a waiter that finishes in time was woken by the watch."""


@pytest.fixture
def watches(kube: KubeCluster) -> Iterator[HubWatches]:
    made = HubWatches(ActivitySettings(hub_kubeconfig=kube.kubeconfig, watch_resync_seconds=300))
    yield made
    made.stop()


def config_maps(namespace: str) -> Kind:
    return Kind("", "v1", "configmaps", namespace, "ConfigMap")


def make(kube: KubeCluster, namespace: str, name: str) -> None:
    body = {"metadata": {"name": name, "labels": MANAGED_BY}, "data": {"phase": "Running"}}
    client.CoreV1Api(kube.api_client()).create_namespaced_config_map(namespace, body)


def finish(kube: KubeCluster, namespace: str, name: str) -> None:
    client.CoreV1Api(kube.api_client()).patch_namespaced_config_map(name, namespace, {"data": {"phase": "Done"}})


def done(obj: Obj | None) -> str | Waiting:
    phase = ((obj or {}).get("data") or {}).get("phase")
    return str(phase) if phase == "Done" else Waiting(f"phase {phase}")


async def wait_for(watches: HubWatches, kind: Kind, name: str) -> str:
    async def activity() -> str:
        return await watches.until(kind, name, done)

    result: Any = await ActivityEnvironment().run(activity)
    return str(result)


def subscribed(watches: HubWatches, kind: Kind, count: int) -> bool:
    informer = watches.informers.get(kind)
    return bool(informer and informer.watches and informer.waiters == count)


async def test_a_waiter_is_woken_by_a_watch_event_without_a_poll(
    kube: KubeCluster, kube_namespace: str, watches: HubWatches
) -> None:
    kind = config_maps(kube_namespace)
    make(kube, kube_namespace, "one")
    waiter = asyncio.ensure_future(wait_for(watches, kind, "one"))
    await eventually_async(lambda: subscribed(watches, kind, 1), what="the waiter subscribed to a running watch")
    reads = watches.reads

    finish(kube, kube_namespace, "one")

    assert await asyncio.wait_for(waiter, DEADLINE) == "Done"
    assert watches.reads == reads  # the store answered: no request of the waiter's own after the first look


async def test_a_watch_the_server_ends_is_resumed_and_after_a_restart_listed_again(
    kube: KubeCluster, kube_namespace: str
) -> None:
    settings = ActivitySettings(hub_kubeconfig=kube.kubeconfig, watch_resync_seconds=300)
    watches = HubWatches(settings, watch_seconds=1)  # the server ends every watch after about a second
    kind = config_maps(kube_namespace)
    try:
        make(kube, kube_namespace, "one")
        waiter = asyncio.ensure_future(wait_for(watches, kind, "one"))
        await eventually_async(lambda: subscribed(watches, kind, 1), what="the waiter subscribed")
        informer = watches.informers[kind]
        await eventually_async(lambda: informer.watches >= 3, what="two watches ended by the server and resumed")
        assert informer.lists == 1  # resumed from its resourceVersion, not listed again

        # A restarted API server has no history before its start: the version the informer resumes
        # from is gone (410), so it lists again; meanwhile it backs off while the server is down.
        await asyncio.to_thread(kube.control_plane.restart_apiserver)
        finish(kube, kube_namespace, "one")

        assert await asyncio.wait_for(waiter, DEADLINE) == "Done"
        assert informer.lists == 2
    finally:
        watches.stop()


async def test_many_waiters_share_one_watch(kube: KubeCluster, kube_namespace: str, watches: HubWatches) -> None:
    kind = config_maps(kube_namespace)
    names = [f"cm-{i}" for i in range(20)]
    for name in names:
        make(kube, kube_namespace, name)
    waiters = [asyncio.ensure_future(wait_for(watches, kind, name)) for name in names]
    await eventually_async(lambda: subscribed(watches, kind, len(names)), what="every waiter subscribed")

    for name in names:
        finish(kube, kube_namespace, name)

    assert await asyncio.wait_for(asyncio.gather(*waiters), DEADLINE) == ["Done"] * len(names)
    informer = watches.informers[kind]
    assert (len(watches.informers), informer.lists, informer.watches) == (1, 1, 1)
    watches.stop()
    assert not informer.running  # stopping ends the watch at once, not at its timeout


async def test_a_deleted_object_wakes_its_waiter_with_none(
    kube: KubeCluster, kube_namespace: str, watches: HubWatches
) -> None:
    kind = config_maps(kube_namespace)
    make(kube, kube_namespace, "doomed")

    async def activity() -> str:
        def gone(obj: Obj | None) -> str | Waiting:
            return "gone" if obj is None else Waiting("still there")

        return await watches.until(kind, "doomed", gone)

    waiter = asyncio.ensure_future(ActivityEnvironment().run(activity))
    await eventually_async(lambda: subscribed(watches, kind, 1), what="the waiter subscribed")
    client.CoreV1Api(kube.api_client()).delete_namespaced_config_map("doomed", kube_namespace)

    assert await asyncio.wait_for(waiter, DEADLINE) == "gone"


UID = "experiments.illm.io/experiment-uid"


def labelled(kube: KubeCluster, namespace: str, name: str, uid: str) -> None:
    body = {"metadata": {"name": name, "labels": {**MANAGED_BY, UID: uid}}}
    client.CoreV1Api(kube.api_client()).create_namespaced_config_map(namespace, body)


def relabel(kube: KubeCluster, namespace: str, name: str, uid: str) -> None:
    client.CoreV1Api(kube.api_client()).patch_namespaced_config_map(
        name, namespace, {"metadata": {"labels": {UID: uid}}}
    )


def selected(informer: Informer, uid: str) -> list[str]:
    return sorted(obj["metadata"]["name"] for obj in informer.select(UID, uid) or [])


async def test_select_by_label_follows_adds_relabels_deletes_and_relists(
    kube: KubeCluster, kube_namespace: str
) -> None:
    kind = config_maps(kube_namespace)
    informer = Informer(kube.api_client(), kind, connect_timeout=5, watch_seconds=1)
    try:
        labelled(kube, kube_namespace, "a", "one")
        labelled(kube, kube_namespace, "b", "one")
        informer.start()
        await eventually_async(lambda: informer.synced, what="the first list")
        assert (selected(informer, "one"), selected(informer, "two")) == (["a", "b"], [])

        labelled(kube, kube_namespace, "c", "two")  # added
        relabel(kube, kube_namespace, "b", "two")  # its label value changed
        await eventually_async(lambda: selected(informer, "two") == ["b", "c"], what="the add and the relabel")
        assert selected(informer, "one") == ["a"]
        client.CoreV1Api(kube.api_client()).delete_namespaced_config_map("c", kube_namespace)
        await eventually_async(lambda: selected(informer, "two") == ["b"], what="the deletion")

        # Changes made while the informer is away reach it only by its next list: the restarted API
        # server has no history before its start, so watching from the old version is refused (410).
        informer.stop()
        relabel(kube, kube_namespace, "a", "two")
        labelled(kube, kube_namespace, "d", "one")
        await asyncio.to_thread(kube.control_plane.restart_apiserver)
        informer.start()
        await eventually_async(lambda: informer.lists == 2, what="a list after the restart")
        assert (selected(informer, "one"), selected(informer, "two")) == (["d"], ["a", "b"])
    finally:
        informer.stop()


async def test_a_label_listener_hears_the_objects_that_have_or_had_its_value_and_no_other(
    kube: KubeCluster, kube_namespace: str
) -> None:
    kind = config_maps(kube_namespace)
    informer = Informer(kube.api_client(), kind, connect_timeout=5)
    heard: dict[str, list[str]] = {"one": [], "two": [], "any": []}

    def hear(into: str) -> Callable[[Key | None], None]:
        return lambda key: heard[into].append(key[1] if key else "(list)")

    try:
        informer.start()
        await eventually_async(lambda: informer.synced and informer.watches > 0, what="a running watch")
        with (
            informer.listening(hear("one"), labelled=(UID, "one")),
            informer.listening(hear("two"), labelled=(UID, "two")),
            informer.listening(hear("any")),
        ):
            labelled(kube, kube_namespace, "x", "two")
            labelled(kube, kube_namespace, "y", "one")
            relabel(kube, kube_namespace, "y", "two")  # leaves "one": both values hear it
            client.CoreV1Api(kube.api_client()).delete_namespaced_config_map("x", kube_namespace)
            await eventually_async(lambda: len(heard["any"]) == 4, what="every change heard by the listener of all")
        # Events are delivered in order, so "one" has had every event it would ever get.
        assert heard == {"one": ["y", "y"], "two": ["x", "y", "x"], "any": ["x", "y", "y", "x"]}
        assert informer.waiters == 0
    finally:
        informer.stop()


async def test_until_gone_wakes_when_the_last_object_of_its_label_value_goes(
    kube: KubeCluster, kube_namespace: str, watches: HubWatches
) -> None:
    kind = config_maps(kube_namespace)
    for name, uid in (("mine-1", "mine"), ("mine-2", "mine"), ("theirs", "theirs")):
        labelled(kube, kube_namespace, name, uid)

    async def activity() -> dict[str, str]:
        return await watches.until_gone([(kind, "still there")], UID, "mine", time.monotonic() + 300)

    waiter = asyncio.ensure_future(ActivityEnvironment().run(activity))
    await eventually_async(lambda: subscribed(watches, kind, 1), what="the waiter subscribed")
    core = client.CoreV1Api(kube.api_client())
    core.delete_namespaced_config_map("mine-1", kube_namespace)
    core.delete_namespaced_config_map("mine-2", kube_namespace)

    assert await asyncio.wait_for(waiter, DEADLINE) == {}
    assert selected(watches.informers[kind], "theirs") == ["theirs"]
