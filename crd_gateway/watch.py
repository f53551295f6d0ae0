"""List-then-watch of Experiments, the way client-go's reflector does it, on a thread.

- Start (and after 410 Gone): LIST in pages of ``list_page_size`` (limit/continue; every page is
  served from the first page's snapshot), hand the full set over (the controller drops what
  vanished), then WATCH from the list's resourceVersion with bookmarks on.
- 410 arrives as an ERROR event ``{"code": 410, "reason": "Gone"}`` (or an HTTP 410, also for a
  continue token that expired mid-list): relist from the first page.
- The server ends a watch after ``watch_timeout_seconds``: resume from the last resourceVersion seen
  (bookmarks keep it fresh), no relist.
- No byte for ``watch_stall_seconds`` (a frozen load balancer or API server): drop and resume.
- Any other error: resume after a jittered exponential backoff (``reconnect_backoff_*``), never give up.
Each object is turned into the planner's slim record (observe.py) on this thread, page by page, so
the gateway never holds more than one page of whole objects. Records are handed to callbacks that
must be thread-safe (the controller posts them to its loop).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from kubernetes.client import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from api.base import API_GROUP, API_VERSION
from crd_gateway import metrics
from crd_gateway.backoff import Backoff
from crd_gateway.kube import PLURAL, KubeApi
from crd_gateway.logs import log
from crd_gateway.observe import ObservedExperiment, observe_experiment
from crd_gateway.settings import GatewaySettings

Object = dict[str, Any]


class WatchExpired(Exception):
    """The resourceVersion we hold is older than the API server's history (410 Gone)."""


class ExperimentWatcher:
    def __init__(
        self,
        kube: KubeApi,
        settings: GatewaySettings,
        namespace: str | None,
        on_list: Callable[[str | None, list[ObservedExperiment]], None],
        on_event: Callable[[str, ObservedExperiment], None],
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.namespace = namespace
        self.on_list = on_list
        self.on_event = on_event
        self.resource_version: str | None = None
        self.last_activity = 0.0
        self._stop = threading.Event()
        self._response: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"watch-{namespace or 'all'}", daemon=True)

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and unblock its read; ``join`` waits for it."""
        self._stop.set()
        self._abort_stream()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------------------ loop

    def _run(self) -> None:
        backoff = Backoff(self.settings.reconnect_backoff_initial, self.settings.reconnect_backoff_max)
        failures = 0
        while not self._stop.is_set():
            try:
                if self.resource_version is None:
                    self._list()
                self._watch(self.resource_version)
                metrics.WATCH_RESTARTS.labels("timeout").inc()
                failures = 0
            except WatchExpired:
                metrics.WATCH_RESTARTS.labels("gone").inc()
                log.info("watch expired (410 Gone); relisting", extra={"namespace": self.namespace})
                self.resource_version = None
            except (ReadTimeoutError, TimeoutError):
                if self._stop.is_set():
                    break
                metrics.WATCH_RESTARTS.labels("stall").inc()
                log.warning("watch stalled; reconnecting", extra={"namespace": self.namespace})
            except Exception as err:
                if self._stop.is_set():
                    break
                if isinstance(err, ApiException) and err.status == 410:
                    metrics.WATCH_RESTARTS.labels("gone").inc()
                    self.resource_version = None
                    continue
                metrics.WATCH_RESTARTS.labels("error").inc()
                metrics.ERRORS.labels("watch").inc()
                delay = backoff.delay(failures)
                failures += 1
                log.warning(
                    "watch failed (%s); retrying in %.1fs", _short(err), delay, extra={"namespace": self.namespace}
                )
                self._stop.wait(delay)

    def _list(self) -> None:
        metrics.RELISTS.inc()
        records: list[ObservedExperiment] = []
        token: str | None = None
        version: str | None = None
        while True:
            page = cast(
                dict[str, Any],
                self._request(
                    limit=self.settings.list_page_size,
                    _continue=token,
                    _request_timeout=self.settings.kube_request_timeout * 3,
                ),
            )
            metrics.LIST_PAGES.inc()
            meta = page.get("metadata") or {}
            version = version or meta.get("resourceVersion")
            records += [self.convert(item) for item in page.get("items") or []]
            self._touch()
            token = meta.get("continue")
            if self._stop.is_set():
                return  # a partial list must not make the controller drop what it did not reach
            if not token:
                break
        self.resource_version = version
        self.on_list(self.namespace, records)

    def _watch(self, resource_version: str | None) -> None:
        for event in self._events(resource_version):
            if event.get("kind") == "Status":  # an HTTP error body instead of a stream
                event = {"type": "ERROR", "object": event}
            kind = event.get("type", "")
            obj = event.get("object") or {}
            metrics.WATCH_EVENTS.labels(kind).inc()
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise WatchExpired(obj.get("message", ""))
                raise ApiException(status=obj.get("code"), reason=f"{obj.get('reason')}: {obj.get('message')}")
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.on_event(kind, self.convert(obj))

    def _events(self, resource_version: str | None) -> Iterator[dict[str, Any]]:
        response = self._open(resource_version)
        with self._lock:
            self._response = response
        try:
            if self._stop.is_set():
                return
            for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                self._touch()
                if line.strip():
                    yield json.loads(line)
                if self._stop.is_set():
                    return
        except ProtocolError as err:
            if not self._stop.is_set():
                raise ConnectionError(f"watch stream broke: {err}") from err
        finally:
            with self._lock:
                self._response = None
            response.release_conn()

    def _open(self, resource_version: str | None) -> Any:
        """Open the watch stream (overridable by fault-injection tests)."""
        return self._request(
            watch=True,
            allow_watch_bookmarks=True,
            resource_version=resource_version,
            timeout_seconds=self.settings.watch_timeout_seconds,
            _preload_content=False,
            _request_timeout=(self.settings.kube_request_timeout, self.settings.watch_stall_seconds),
        )

    def _request(self, **kwargs: Any) -> object:
        custom = self.kube.custom
        if self.namespace:
            return custom.list_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, **kwargs)
        return custom.list_cluster_custom_object(API_GROUP, API_VERSION, PLURAL, **kwargs)

    def convert(self, obj: Object) -> ObservedExperiment:
        """An object as listed or watched → the record the controller caches (overridable by tests)."""
        return observe_experiment(obj)

    def _abort_stream(self) -> None:
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed
                response.shutdown()

    def _touch(self) -> None:
        self.last_activity = time.monotonic()


def _short(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) < 300 else text[:300] + "…"
