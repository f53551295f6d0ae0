"""One shared watch (informer) per resource kind on the hub, and waiting on it instead of polling.

Activities that wait — a claim Ready, an Application healthy, an Argo Workflow finished, cleanup's
objects gone — used to re-read the hub every second each. Here one :class:`Informer` per
:class:`Kind` lists the kind once (only objects we made: label ``app.kubernetes.io/managed-by``),
then watches from that ``resourceVersion`` and keeps an in-memory store keyed by (namespace, name):

- the watch asks for bookmarks and ends after ``timeoutSeconds`` (jittered); the informer then
  watches again from the last ``resourceVersion`` it saw;
- ``410 Gone`` (the version was compacted) makes it list again; any other failure waits a jittered,
  growing backoff before watching again;
- every event wakes the waiters of that object (a waiter's ``asyncio.Event`` is set on its own loop
  with ``call_soon_threadsafe``: the watch runs in a thread).

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
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio import activity

from activities.heartbeating import heartbeating
from activities.kube import MANAGED_BY, hub_client, is_not_found
from activities.settings import ActivitySettings
from runtime.kube import kube_configuration

log = logging.getLogger(__name__)
T = TypeVar("T")
Obj = dict[str, Any]
Key = tuple[str, str]
"""(namespace, name); namespace "" for a cluster-scoped object."""

MANAGED_SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
WATCH_SECONDS = 300.0
"""How long one watch request lasts (± 20 %) before the server ends it and the informer watches again."""
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
LIST_PAGE = 500
JITTER = 0.2


def jittered(seconds: float) -> float:
    return seconds * random.uniform(1 - JITTER, 1 + JITTER)


@dataclass(frozen=True)
class Kind:
    """A resource the worker waits on or reads often: where it lives, its name in notes and reports
    (``title``), and which of its objects the informer keeps (``selector``: by default only ours)."""

    group: str
    version: str
    plural: str
    namespace: str | None
    title: str
    selector: str = MANAGED_SELECTOR

    def path(self, name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        where = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"{base}{where}/{self.plural}" + (f"/{quote(name)}" if name else "")

    def key(self, name: str) -> Key:
        return (self.namespace or "", name)


@dataclass(frozen=True)
class Waiting:
    """Not there yet; ``note`` becomes the heartbeat detail. ``recheck_after``: evaluate again by then
    even if nothing changes (a grace period that runs out)."""

    note: str
    recheck_after: float | None = None


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


class Subscription:
    """One waiter's wake-up: set from the informer's thread on the waiter's own loop."""

    def __init__(self, key: Key | None) -> None:
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()

    def wake(self) -> None:
        with suppress(RuntimeError):  # the waiter's loop closed: it no longer waits
            self.loop.call_soon_threadsafe(self.changed.set)


def _call(api: client.ApiClient, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]) -> Any:
    """A raw GET, for core and custom kinds alike: the urllib3 response, not yet read (a watch streams it)."""
    method, url, headers, body, post = api.param_serialize(
        "GET", path, query_params=query, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, headers, body, post, _request_timeout=timeout).response
    if not 200 <= response.status <= 299:
        text = response.data.decode(errors="replace")
        response.release_conn()
        raise ApiException(status=response.status, reason=response.reason, body=text)
    return response


class Informer:
    """List, then watch, one kind; the store and the waiters of its objects. Runs in its own thread."""

    def __init__(self, api: client.ApiClient, kind: Kind, connect_timeout: float, watch_seconds: float) -> None:
        self.api, self.kind = api, kind
        self.connect_timeout, self.watch_seconds = connect_timeout, watch_seconds
        self.store: dict[Key, Obj] = {}
        self.resource_version = ""
        self.synced = False
        self.lists = 0
        self.watches = 0
        """Lists and watch requests made so far (each watch request is one connection)."""
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._stopping = threading.Event()
        self._response: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run (again, after :meth:`stop`: the store and version are kept, as after a disconnection)."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.kind.plural}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        response = self._response
        if response is not None:
            response.shutdown()  # unblocks the thread's read at once
        if self._thread is not None:
            self._thread.join(timeout=self.connect_timeout + 5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def waiters(self) -> int:
        with self._lock:
            return len(self._subscribers)

    # ------------------------------------------------------------------ what waiters read

    def get(self, key: Key) -> Obj | None:
        with self._lock:
            return self.store.get(key) if self.synced else None

    def select(self, label: str | None, value: str = "") -> list[Obj] | None:
        """Stored objects with ``label=value`` (every one: ``label`` None); None until the first list arrived."""
        with self._lock:
            if not self.synced:
                return None
            if label is None:
                return list(self.store.values())
            return [o for o in self.store.values() if (o["metadata"].get("labels") or {}).get(label) == value]

    @contextmanager
    def subscribe(self, key: Key | None) -> Iterator[asyncio.Event]:
        """Wake on changes of ``key`` (None: of any object) and on every re-list."""
        subscription = Subscription(key)
        with self._lock:
            self._subscribers.add(subscription)
        try:
            yield subscription.changed
        finally:
            with self._lock:
                self._subscribers.discard(subscription)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if not self.synced:
                    self._list()
                self._watch()
                failures = 0
            except Gone:
                log.info("informer %s: version %s is gone; listing again", self.kind.plural, self.resource_version)
                self.synced = False
            except Exception as err:  # the API server restarting, a network error: back off, watch again
                if self._stopping.is_set():
                    return
                failures += 1
                pause = jittered(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1)))
                log.warning("informer %s: %s; watching again in %.1f s", self.kind.plural, err, pause)
                self._stopping.wait(pause)

    def _list(self) -> None:
        items: dict[Key, Obj] = {}
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("labelSelector", self.kind.selector), ("limit", LIST_PAGE)]
            if token:
                query.append(("continue", token))
            page = json.loads(_call(self.api, self.kind.path(), query, self._timeout(30)).data)
            for obj in page.get("items") or []:
                items[self._key(obj)] = obj
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                break
        with self._lock:
            self.store = items
            self.resource_version = str(page["metadata"]["resourceVersion"])
            self.synced = True
            self.lists += 1
            woken = list(self._subscribers)
        for subscription in woken:
            subscription.wake()

    def _watch(self) -> None:
        seconds = max(1, round(jittered(self.watch_seconds)))
        query: list[tuple[str, Any]] = [
            ("labelSelector", self.kind.selector),
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self.resource_version),
            ("timeoutSeconds", seconds),
        ]
        try:
            response = _call(self.api, self.kind.path(), query, self._timeout(seconds + 30))
        except ApiException as exc:
            if exc.status == 410:
                raise Gone from exc
            raise
        self._response = response
        self.watches += 1
        try:
            if self._stopping.is_set():  # stopped while connecting: stop() may not have seen the response
                return
            pending = b""
            for chunk in response.stream(amt=None, decode_content=False):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._apply(json.loads(line))
                if self._stopping.is_set():
                    return
        finally:
            self._response = None
            response.release_conn()

    def _apply(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone
            raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self.resource_version = str(version)
            return
        key = self._key(obj)
        with self._lock:
            if kind == "DELETED":
                self.store.pop(key, None)
            else:
                self.store[key] = obj
            self.resource_version = str(version)
            woken = [s for s in self._subscribers if s.key in (None, key)]
        for subscription in woken:
            subscription.wake()

    def _key(self, obj: Obj) -> Key:
        meta = obj["metadata"]
        return (meta.get("namespace") or "", meta["name"])

    def _timeout(self, read: float) -> tuple[float, float]:
        return (self.connect_timeout, read)


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
                return json.loads(_call(api, kind.path(name), [], self.settings.kube_request_timeout).data)  # type: ignore[no-any-return]
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
        with informer.subscribe(key) as changed:
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
            events = [stack.enter_context(informer.subscribe(None)) for informer, _, _ in informers]
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
            return list(json.loads(_call(api, kind.path(), query, self.settings.kube_request_timeout).data)["items"])

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
