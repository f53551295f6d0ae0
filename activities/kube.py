"""Kubernetes plumbing shared by the activities: clients, error tests, create-or-update, polling.

Activities are ``async def`` and run every blocking kubernetes-client call through
``asyncio.to_thread``, so the worker needs no thread-pool executor and cancellation arrives as
``asyncio.CancelledError`` at the next ``await`` (never swallowed here). Long waits are woken by
the worker's shared watches (:mod:`activities.watches`).

Every client made here is a :class:`TimedApiClient`: each request carries the connect and read
timeouts of :class:`ActivitySettings` unless the call sets its own ``_request_timeout``. A connection
that is accepted and never answered then fails the call (and frees its thread) instead of holding one
of the worker's threads forever; Temporal retries the attempt.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.settings import ActivitySettings
from api import names
from runtime.kube import ClusterChoice, kube_configuration

log = logging.getLogger(__name__)

MANAGED_BY = {"app.kubernetes.io/managed-by": "experiment-operator"}
EXPERIMENT_LABEL = "experiments.illm.io/experiment"
TARGET_LABEL = "experiments.illm.io/target"
CLUSTER_LABEL = "experiments.illm.io/cluster"
LAYER_LABEL = "experiments.illm.io/layer"
EXPERIMENT_UID_ANNOTATION = "experiments.illm.io/experiment-uid"
EXPERIMENT_UID_LABEL = names.EXPERIMENT_UID_LABEL
"""On every object an experiment creates: cleanup deletes only what carries its own uid."""


def experiment_labels(ref: names.ExperimentIdentity) -> dict[str, str]:
    """The labels that tie an object to one Experiment object: its name (as the original) and its uid."""
    return {**MANAGED_BY, EXPERIMENT_LABEL: names.experiment_label(ref), EXPERIMENT_UID_LABEL: ref.uid}


def uid_selector(ref: names.ExperimentIdentity) -> str:
    return f"{EXPERIMENT_UID_LABEL}={ref.uid}"


HUB_CONNECTIONS = 64
"""Connections the hub client keeps: one for each activity running at once (50 by default) and some to
spare. urllib3's default (5 per core) made a busy worker open connections only to discard them
("Connection pool is full"), each a new TLS handshake the next time."""


@contextmanager
def hub_client(settings: ActivitySettings) -> Iterator[client.ApiClient]:
    """The hub, by runtime/kube.py's fallback order starting at ``HUB_KUBECONFIG`` (``hub_cluster``).

    One client per kubeconfig for the worker's life: polls run every fraction of a second, and a new
    client each time re-read the kubeconfig and opened a new TLS connection (the main cost at scale).
    """
    choice = settings.hub_cluster
    key = (choice, settings.kube_request_timeout)
    with _HUB_CLIENTS_LOCK:
        api = _HUB_CLIENTS.get(key)
        if api is None:
            configuration = kube_configuration(choice)
            configuration.connection_pool_maxsize = HUB_CONNECTIONS
            api = _HUB_CLIENTS[key] = TimedApiClient(configuration, settings.kube_request_timeout)
    yield api


_HUB_CLIENTS: dict[tuple[ClusterChoice, tuple[float, float]], client.ApiClient] = {}
_HUB_CLIENTS_LOCK = threading.Lock()


API_CLASSES = ("CoreV1Api", "CustomObjectsApi", "RbacAuthorizationV1Api")
"""The kubernetes client's API classes the activities use."""


def import_api_classes() -> None:
    """Import :data:`API_CLASSES` now. The client imports each on first use, and ``CoreV1Api``'s module
    alone costs about 1.5 CPU-seconds (pydantic wraps each of its hundreds of methods): the worker pays
    that once at start instead of in the first activities, while they compete with the workflows."""
    for name in API_CLASSES:
        getattr(client, name)


class TimedApiClient(client.ApiClient):
    """An ``ApiClient`` whose every request has (connect, read) timeouts unless the call gives its own."""

    def __init__(self, configuration: client.Configuration, timeout: tuple[float, float]) -> None:
        super().__init__(configuration)
        self.timeout = timeout

    def call_api(
        self,
        method: Any,
        url: Any,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        timeout = _request_timeout or self.timeout
        return super().call_api(method, url, header_params, body, post_params, _request_timeout=timeout)


def status_of(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, ApiException) else None


def is_not_found(exc: BaseException) -> bool:
    return status_of(exc) == 404


def is_conflict(exc: BaseException) -> bool:
    return status_of(exc) == 409


def reason_of(exc: ApiException) -> str:
    """The API server's message, not the whole HTTP dump."""
    try:
        body = yaml.safe_load(exc.body or "") or {}
        return str(body.get("message") or exc.reason)
    except yaml.YAMLError:
        return str(exc.reason)


T = TypeVar("T")


class VersionCache(Generic[T]):
    """What was made from an API object, by the object's version — ``(uid, resourceVersion, …)``: made
    once per version however often it is read. Bounded; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._made: OrderedDict[tuple[Hashable, ...], T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: tuple[Hashable, ...], make: Callable[[], T]) -> T:
        if None in version[:2]:  # an object without uid or resourceVersion (not from the API) is not kept
            return make()
        with self._lock:
            if version in self._made:
                self._made.move_to_end(version)
                return self._made[version]
        made = make()  # outside the lock: errors are not cached, a rare double build is harmless
        with self._lock:
            self._made[version] = made
            while len(self._made) > self.size:
                self._made.popitem(last=False)
        return made


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when the wheel has it: the same documents as ``yaml.safe_load`` at a tenth of the CPU."""


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` for documents read often (kubeconfigs: several per experiment)."""
    return yaml.load(text, Loader=_YAML_LOADER)


def secret_text(secret: Any, key: str) -> str | None:
    """A decoded Secret value (``data`` is base64), or None."""
    value = (secret.data or {}).get(key)
    return base64.b64decode(value).decode() if value else None


def ensure_namespace(api: client.ApiClient, name: str, labels: dict[str, str] | None = None) -> None:
    core = client.CoreV1Api(api)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels or {})))
    except ApiException as exc:
        if not is_conflict(exc):
            raise
        if labels:
            core.patch_namespace(name, {"metadata": {"labels": labels}})


def apply_secret(api: client.ApiClient, namespace: str, body: client.V1Secret) -> None:
    """Create the Secret, or replace its data, type, labels and owners if it exists (create-or-update).

    The replace is unconditional (Secrets allow it) so no read is needed: the worker may write the
    Secrets it owns in ``argocd`` and the Experiment's namespace without being able to read any Secret there.
    """
    core = client.CoreV1Api(api)
    meta = body.metadata or client.V1ObjectMeta()
    try:
        core.create_namespaced_secret(namespace, body)
    except ApiException as exc:
        if not is_conflict(exc):
            raise
        meta.resource_version = None
        core.replace_namespaced_secret(str(meta.name), namespace, body)


def delete_ignoring_missing(delete: Callable[[], Any]) -> bool:
    """Run a delete call; True if something was deleted, False if it was already gone."""
    try:
        delete()
    except ApiException as exc:
        if is_not_found(exc):
            return False
        raise
    return True


class CustomObjects:
    """``CustomObjectsApi`` with dict results typed as such (the client declares ``object``)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = client.CustomObjectsApi(api)

    def get(self, group: str, version: str, namespace: str, plural: str, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.api.get_namespaced_custom_object(group, version, namespace, plural, name))

    def get_cluster(self, group: str, version: str, plural: str, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.api.get_cluster_custom_object(group, version, plural, name))

    def list(
        self, group: str, version: str, plural: str, namespace: str | None = None, selector: str = ""
    ) -> list[dict[str, Any]]:
        if namespace is None:
            result = self.api.list_cluster_custom_object(group, version, plural, label_selector=selector)
        else:
            result = self.api.list_namespaced_custom_object(group, version, namespace, plural, label_selector=selector)
        return list(cast(dict[str, Any], result).get("items", []))

    def create(self, group: str, version: str, namespace: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        return cast(dict[str, Any], self.api.create_namespaced_custom_object(group, version, namespace, plural, body))

    def replace(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        result = self.api.replace_namespaced_custom_object(group, version, namespace, plural, name, body)
        return cast(dict[str, Any], result)

    def delete(self, group: str, version: str, namespace: str, plural: str, name: str) -> bool:
        """True if deleted now, False if it was already gone."""
        return delete_ignoring_missing(
            lambda: self.api.delete_namespaced_custom_object(group, version, namespace, plural, name)
        )
