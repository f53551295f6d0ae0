"""One shared watch (informer) per resource kind on the hub, and waiting on it instead of polling.

Activities that wait — a claim Ready, an Application healthy, an Argo Workflow finished, cleanup's
objects gone — used to re-read the hub every second each. Here one :class:`~runtime.informer.Informer`
per :class:`Kind` lists the kind once (only objects we made: label ``app.kubernetes.io/managed-by``),
then watches from that ``resourceVersion`` and keeps an in-memory store keyed by (namespace, name)
(watch renewal, ``410 Gone`` and backoff: :mod:`runtime.informer`). Every event wakes the waiters of
that object, or of the label value it waits on (a waiter's ``asyncio.Event`` is set on its own loop
with ``call_soon_threadsafe``: the watch runs in a thread), never the waiters of other experiments.

A waiter (:meth:`HubWatches.until`) evaluates the stored object on every wake. Polling remains only
as a safety net: every ``WATCH_RESYNC_SECONDS`` (± 20 %) the waiter reads the object from the API
itself, as it does when the store does not have it (not synced yet, just created, or gone: the API
answers whether it is). Heartbeats go on while waiting, as with every long call.

One-off reads use the stores too (:meth:`HubWatches.stored`: the catalog's Components, claims),
falling back to the API whenever the store lacks what they need. Informers start with their first
user. :class:`HubWatches` owns them; the registry builds one per
:class:`~activities.registry.KubernetesActivities` and the worker stops it on shutdown.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio import activity

from activities.heartbeating import heartbeating
from activities.kube import MANAGED_BY, hub_client, is_not_found
from activities.settings import ActivitySettings
from runtime.informer import WATCH_SECONDS, Informer, Key, Labelled, Obj, jittered, raw_get
from runtime.informer import Kind as ResourceKind
from runtime.kube import kube_configuration

__all__ = ["HubWatches", "Kind", "Obj", "Waiting"]
T = TypeVar("T")

MANAGED_SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


@dataclass(frozen=True)
class Kind(ResourceKind):
    """A resource the worker waits on or reads often: where it lives, its name in notes and reports
    (``title``), and which of its objects the informer keeps (``selector``: by default only ours)."""

    selector: str = MANAGED_SELECTOR


@dataclass(frozen=True)
class Waiting:
    """Not there yet; ``note`` becomes the heartbeat detail. ``recheck_after``: evaluate again by then
    even if nothing changes (a grace period that runs out)."""

    note: str
    recheck_after: float | None = None


class Subscription:
    """One waiter's wake-up: set from the informer's thread on the waiter's own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()

    def wake(self, key: Key | None) -> None:
        with suppress(RuntimeError):  # the waiter's loop closed: it no longer waits
            self.loop.call_soon_threadsafe(self.changed.set)


@contextmanager
def subscribed(informer: Informer, key: Key | None, labelled: Labelled | None = None) -> Iterator[asyncio.Event]:
    """An event set on changes of ``key`` or of the objects with ``labelled``'s label value, and on every re-list."""
    subscription = Subscription()
    with informer.listening(subscription.wake, key, labelled=labelled):
        yield subscription.changed


class HubWatches:
    """The worker's informers on the hub (one per kind, started by the first waiter) and the waits on them."""

    def __init__(self, settings: ActivitySettings, watch_seconds: float = WATCH_SECONDS) -> None:
        self.settings = settings
        self.watch_seconds = watch_seconds
        self.informers: dict[Kind, Informer] = {}
        self.reads = 0
        """Objects read from the API by waiters (not from the store): the safety net and the first look."""
        self._api: client.ApiClient | None = None
        self._lock = threading.Lock()

    def informer(self, kind: Kind) -> Informer:
        with self._lock:
            informer = self.informers.get(kind)
            if informer is None:
                if self._api is None:  # its own connections: each watch holds one for minutes
                    self._api = client.ApiClient(kube_configuration(self.settings.hub_cluster))
                connect = self.settings.kube_connect_timeout_seconds
                informer = self.informers[kind] = Informer(self._api, kind, connect, self.watch_seconds)
                informer.start()
            return informer

    def stop(self) -> None:
        with self._lock:
            informers, self.informers = list(self.informers.values()), {}
            api, self._api = self._api, None
        for informer in informers:
            informer.stop()
        if api is not None:
            api.close()  # type: ignore[no-untyped-call]

    def stored(self, kind: Kind, name: str) -> Obj | None:
        """The informer's copy of the object (starting the informer), or None: not synced yet, or absent.

        For one-off reads that may be a moment behind the API; a caller that needs what the store
        lacks reads the API itself (None here never means "does not exist"). Do not mutate the result.
        """
        return self.informer(kind).get(kind.key(name))

    def stored_all(self, kind: Kind) -> list[Obj] | None:
        """Every stored object of the kind (starting the informer), or None until it has synced."""
        return self.informer(kind).select(None)

    def read(self, kind: Kind, name: str) -> Obj | None:
        """The object as the API has it now, or None if it does not exist."""
        self.reads += 1
        with hub_client(self.settings) as api:
            try:
                return json.loads(raw_get(api, kind.path(name), [], self.settings.kube_request_timeout).data)  # type: ignore[no-any-return]
            except ApiException as exc:
                if is_not_found(exc):
                    return None
                raise

    async def until(
        self, kind: Kind, name: str, evaluate: Callable[[Obj | None], T | Waiting], first: Obj | None = None
    ) -> T:
        """Evaluate the object (None: it does not exist) on every change until it gives a result.

        ``first``: the object as the caller's own write just returned it, the first look instead of the
        store or the API (the store may not have caught up with that write yet).
        """
        informer = self.informer(kind)
        key = kind.key(name)
        note = f"{kind.title} {name}: first look"
        with subscribed(informer, key) as changed:
            from_api = False
            while True:
                changed.clear()
                obj = first or (None if from_api else informer.get(key))
                first = None
                if obj is None:
                    obj = await heartbeating(asyncio.to_thread(self.read, kind, name), note)
                outcome = evaluate(obj)
                if not isinstance(outcome, Waiting):
                    return outcome
                note = outcome.note
                activity.heartbeat(note)
                from_api = not await self._woken(changed, note, outcome.recheck_after)

    async def until_gone(
        self, kinds: Sequence[tuple[Kind, str]], label: str, value: str, deadline: float
    ) -> dict[str, str]:
        """Wait until no object of ``kinds`` carries ``label=value``, or the deadline (monotonic) passes.

        Returns what is left: ``{"<title>/<name>": why}`` (the ``why`` given with its kind).
        """
        informers = [(self.informer(kind), kind, why) for kind, why in kinds]
        with ExitStack() as stack:
            events = [stack.enter_context(subscribed(informer, None, (label, value))) for informer, _, _ in informers]
            from_api = False
            while True:
                for event in events:
                    event.clear()
                left: dict[str, str] = {}
                for informer, kind, why in informers:
                    stored = None if from_api else informer.select(label, value)
                    if stored is None:
                        stored = await asyncio.to_thread(self._list_labelled, kind, label, value)
                    left |= {f"{kind.title}/{obj['metadata']['name']}": why for obj in stored}
                remaining = deadline - time.monotonic()
                if not left or remaining <= 0:
                    return left
                note = f"waiting for {', '.join(sorted(left))}"
                activity.heartbeat(note)
                from_api = not await self._woken_any(events, note, remaining)

    def _list_labelled(self, kind: Kind, label: str, value: str) -> list[Obj]:
        self.reads += 1
        with hub_client(self.settings) as api:
            query = [("labelSelector", f"{label}={value}")]
            return list(json.loads(raw_get(api, kind.path(), query, self.settings.kube_request_timeout).data)["items"])

    async def _woken(self, changed: asyncio.Event, note: str, recheck_after: float | None) -> bool:
        """True when woken by a change; False when the safety net (or ``recheck_after``) ran out first."""
        return await self._woken_any([changed], note, recheck_after)

    async def _woken_any(self, events: Sequence[asyncio.Event], note: str, limit: float | None) -> bool:
        timeout = jittered(self.settings.watch_resync_seconds)
        if limit is not None:
            timeout = min(timeout, max(0.0, limit))
        waits = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            first = asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            done, _ = await heartbeating(first, note)
            return bool(done)
        finally:
            for wait in waits:
                wait.cancel()
