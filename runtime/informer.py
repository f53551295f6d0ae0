"""One kind's objects kept in memory by a list, then a watch from that list's ``resourceVersion``.

The worker's waiting activities (:mod:`activities.watches`) and the lab simulator's controllers
(:mod:`labsim.simulator`) both react to changes this way instead of re-reading the API server:

- the watch asks for bookmarks and ends after ``timeoutSeconds`` (jittered); the informer then
  watches again from the last ``resourceVersion`` it saw;
- ``410 Gone`` (the version was compacted, or a restarted API server has no history before its
  start) makes it list again; any other failure waits a jittered, growing backoff before watching
  again (a CRD not installed yet included: it is listed once it is);
- each change calls the listeners of that object, of a label value the object has or had, and of
  every object, with its key, after the store has it; a (re)list calls every listener with ``None``.
  Listeners run on the informer's thread and must return quickly: set an event, put the key in a queue.

Both the listeners and :meth:`Informer.select` by label are found through dictionaries (client-go's
indexers), so the cost of one event does not grow with the number of stored objects or of waiters.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]
"""(namespace, name); namespace "" for a cluster-scoped object."""
Listener = Callable[[Key | None], None]
"""Called with the key of an object that was added, changed or deleted; with None after a (re)list."""

WATCH_SECONDS = 300.0
"""How long one watch request lasts (± 20 %) before the server ends it and the informer watches again."""
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
LIST_PAGE = 500
JITTER = 0.2


def jittered(seconds: float) -> float:
    return seconds * random.uniform(1 - JITTER, 1 + JITTER)


@dataclass(frozen=True)
class Kind:
    """A resource kind: where it lives (``namespace`` None: every namespace, or cluster-scoped), its
    name in notes and reports (``title``), and which of its objects an informer keeps (``selector``, a
    label selector; empty: every one)."""

    group: str
    version: str
    plural: str
    namespace: str | None
    title: str
    selector: str = ""

    def path(self, name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        where = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"{base}{where}/{self.plural}" + (f"/{quote(name)}" if name else "")

    def key(self, name: str) -> Key:
        return (self.namespace or "", name)


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def raw_get(api: client.ApiClient, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]) -> Any:
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


Labelled = tuple[str, str]
"""(label, value): the objects that carry that label with that value."""


@dataclass(eq=False)
class _Listening:
    key: Key | None
    labelled: Labelled | None
    listener: Listener


def _label(obj: Obj | None, label: str) -> str | None:
    return (((obj or {}).get("metadata") or {}).get("labels") or {}).get(label)


class _LabelIndex:
    """Keys of the stored objects by the value of one label; kept by the store's writer, under its lock."""

    def __init__(self, label: str, store: dict[Key, Obj]) -> None:
        self.label = label
        self.keys: dict[str, set[Key]] = {}
        for key, obj in store.items():
            self.add(key, obj)

    def add(self, key: Key, obj: Obj) -> None:
        value = _label(obj, self.label)
        if value is not None:
            self.keys.setdefault(value, set()).add(key)

    def remove(self, key: Key, obj: Obj | None) -> None:
        value = _label(obj, self.label)
        keys = self.keys.get(value, set()) if value is not None else set()
        keys.discard(key)
        if value is not None and not keys:
            self.keys.pop(value, None)


class Informer:
    """List, then watch, one kind (the objects its selector picks); the store and the listeners of its
    objects. Runs in its own thread; give it an ``ApiClient`` of its own (each watch holds a connection
    for minutes)."""

    def __init__(
        self, api: client.ApiClient, kind: Kind, connect_timeout: float, watch_seconds: float = WATCH_SECONDS
    ) -> None:
        self.api, self.kind = api, kind
        self.connect_timeout, self.watch_seconds = connect_timeout, watch_seconds
        self.store: dict[Key, Obj] = {}
        self.resource_version = ""
        self.synced = False
        self.lists = 0
        self.watches = 0
        """Lists and watch requests made so far (each watch request is one connection)."""
        self._lock = threading.Lock()
        self._indexes: dict[str, _LabelIndex] = {}
        """Built for a label the first time :meth:`select` asks for it, then kept with the store."""
        self._by_key: dict[Key, set[_Listening]] = {}
        self._by_label: dict[Labelled, set[_Listening]] = {}
        self._listened_labels: dict[str, int] = {}
        self._every: set[_Listening] = set()
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
            return len(self._all_listeners())

    # ------------------------------------------------------------------ what readers see

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
            index = self._indexes.get(label)
            if index is None:
                index = self._indexes[label] = _LabelIndex(label, self.store)
            return [self.store[key] for key in index.keys.get(value, ())]

    @contextmanager
    def listening(
        self, listener: Listener, key: Key | None = None, *, labelled: Labelled | None = None
    ) -> Iterator[None]:
        """Call ``listener`` on changes of ``key``, or of objects that have or had ``labelled``'s label
        value, or (neither given) of any object; and on every (re)list."""
        if key is not None and labelled is not None:
            raise ValueError("listen to one object or to one label value, not both")
        entry = _Listening(key, labelled, listener)
        with self._lock:
            self._listeners_of(entry).add(entry)
            if labelled is not None:
                self._listened_labels[labelled[0]] = self._listened_labels.get(labelled[0], 0) + 1
        try:
            yield
        finally:
            with self._lock:
                listeners = self._listeners_of(entry)
                listeners.discard(entry)
                if not listeners and key is not None:
                    del self._by_key[key]
                if labelled is not None:
                    if not listeners:
                        del self._by_label[labelled]
                    self._listened_labels[labelled[0]] -= 1
                    if not self._listened_labels[labelled[0]]:
                        del self._listened_labels[labelled[0]]

    def _listeners_of(self, entry: _Listening) -> set[_Listening]:
        if entry.key is not None:
            return self._by_key.setdefault(entry.key, set())
        if entry.labelled is not None:
            return self._by_label.setdefault(entry.labelled, set())
        return self._every

    def _all_listeners(self) -> list[Listener]:
        every = [
            *self._every,
            *(e for s in self._by_key.values() for e in s),
            *(e for s in self._by_label.values() for e in s),
        ]
        return [entry.listener for entry in every]

    def _listeners_of_change(self, key: Key, old: Obj | None, new: Obj | None) -> list[Listener]:
        """Who hears of a change from ``old`` to ``new`` (None: absent): the object's own listeners, those of
        a label value either version carries, and those of every object."""
        called = [*self._every, *self._by_key.get(key, ())]
        for label in self._listened_labels:
            values = {value for value in (_label(old, label), _label(new, label)) if value is not None}
            for value in values:
                called.extend(self._by_label.get((label, value), ()))
        return [entry.listener for entry in called]

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

    def _selector(self) -> list[tuple[str, Any]]:
        return [("labelSelector", self.kind.selector)] if self.kind.selector else []

    def _list(self) -> None:
        items: dict[Key, Obj] = {}
        token = ""
        while True:
            query: list[tuple[str, Any]] = [*self._selector(), ("limit", LIST_PAGE)]
            if token:
                query.append(("continue", token))
            page = json.loads(raw_get(self.api, self.kind.path(), query, self._timeout(30)).data)
            for obj in page.get("items") or []:
                items[key_of(obj)] = obj
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                break
        with self._lock:
            self.store = items
            self._indexes = {label: _LabelIndex(label, items) for label in self._indexes}
            self.resource_version = str(page["metadata"]["resourceVersion"])
            self.synced = True
            self.lists += 1
            called = self._all_listeners()
        for listener in called:
            listener(None)

    def _watch(self) -> None:
        seconds = max(1, round(jittered(self.watch_seconds)))
        query: list[tuple[str, Any]] = [
            *self._selector(),
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self.resource_version),
            ("timeoutSeconds", seconds),
        ]
        try:
            response = raw_get(self.api, self.kind.path(), query, self._timeout(seconds + 30))
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
        key = key_of(obj)
        with self._lock:
            old = self.store.pop(key, None) if kind == "DELETED" else self.store.get(key)
            new = None if kind == "DELETED" else obj
            if new is not None:
                self.store[key] = new
            for index in self._indexes.values():
                index.remove(key, old)
                if new is not None:
                    index.add(key, new)
            self.resource_version = str(version)
            called = self._listeners_of_change(key, old, new)
        for listener in called:
            listener(key)

    def _timeout(self, read: float) -> tuple[float, float]:
        return (self.connect_timeout, read)
