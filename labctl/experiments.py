"""Reading and changing Experiments through the Kubernetes API, for every labctl command that needs one.

Only the Kubernetes API: no Temporal, no lab internals, so the commands work against any cluster that
has our CRDs. Every API or connection failure becomes a one-line LabctlError. Also the small
presentation helpers the commands share: ages, tables, the reason an experiment is where it is.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config, watch
from pydantic import ValidationError
from urllib3.exceptions import HTTPError

from api.base import API_GROUP, API_VERSION
from api.experiment import Condition, ConditionStatus, ExperimentPhase, ExperimentStatus
from api.names import CLAIM_NAMESPACE
from labctl import kube
from labctl.command import LabctlError
from runtime.kube import ClusterChoice

PLURAL = "experiments"
DEFAULT_NAMESPACE = CLAIM_NAMESPACE
REQUEST_TIMEOUT_SECONDS = 15
TERMINAL_PHASES = (ExperimentPhase.COMPLETE.value, ExperimentPhase.FAILED.value)
Obj = dict[str, Any]


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, ``--context``, ``-n/--namespace``: the same on every command that reads the cluster."""
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default the current context)")
    parser.add_argument(
        "-n",
        "--namespace",
        help=f"namespace (default the context's namespace, else {DEFAULT_NAMESPACE})",
    )


class ClusterUnreachable(LabctlError):
    """The API server did not answer (as opposed to answering no)."""


def context_namespace(choice: ClusterChoice) -> str | None:
    """The namespace the kubeconfig context names, as kubectl would use it."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=choice.kubeconfig_file())  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise LabctlError(f"cannot use {choice.describe()}: {exc}") from exc
    context = choice.context
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else current
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


@dataclass
class Experiments:
    """The Experiments of one cluster, as one namespace (or all) sees them."""

    api_client: client.ApiClient
    namespace: str
    where: str  # "kubeconfig …, context …", for error messages

    @classmethod
    def connect(cls, args: argparse.Namespace, file_namespace: str | None = None) -> Experiments:
        """Namespace: ``-n``, else the file's, else the context's, else ``experiments``."""
        choice = args.settings.cluster_choice(getattr(args, "kubeconfig", None), getattr(args, "context", None))
        api_client = kube.connect(choice)
        namespace = getattr(args, "namespace", None) or file_namespace or context_namespace(choice) or DEFAULT_NAMESPACE
        return cls(api_client, namespace, choice.describe())

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    def get(self, name: str) -> Obj:
        return self._object(
            f"experiment {name!r} in namespace {self.namespace!r}",
            lambda: self.custom.get_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, name),
        )

    def list(self, *, all_namespaces: bool = False, selector: str | None = None) -> list[Obj]:
        kwargs: dict[str, Any] = {"label_selector": selector} if selector else {}
        if all_namespaces:
            result = self._call(
                "experiments",
                lambda: self.custom.list_cluster_custom_object(API_GROUP, API_VERSION, PLURAL, **kwargs),
            )
        else:
            result = self._call(
                f"experiments in namespace {self.namespace!r}",
                lambda: self.custom.list_namespaced_custom_object(
                    API_GROUP, API_VERSION, self.namespace, PLURAL, **kwargs
                ),
            )
        return list(result.get("items", []))

    def create(self, body: Obj) -> Obj:
        return self._object(
            f"creating an experiment in namespace {self.namespace!r}",
            lambda: self.custom.create_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, PLURAL, body, field_manager=kube.FIELD_MANAGER
            ),
        )

    def annotate(self, name: str, annotations: dict[str, str]) -> Obj:
        body = {"metadata": {"annotations": annotations}}
        return self._object(
            f"annotating experiment {name!r}",
            lambda: self.custom.patch_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, PLURAL, name, body, field_manager=kube.FIELD_MANAGER
            ),
        )

    def secret_data(self, name: str) -> dict[str, str]:
        secret = self._call(
            f"secret {name!r} in namespace {self.namespace!r}",
            lambda: self.core.read_namespaced_secret(name, self.namespace),
        )
        return dict(secret.data or {})

    def follow(self, name: str, timeout: float) -> Iterator[Obj]:
        """The experiment now, then every change, until ``timeout`` seconds have passed.

        A watch that ends (server timeout, 410 Gone, dropped connection) is resumed from a fresh read,
        so a long wait survives API server restarts; the caller stops iterating when it has seen enough.
        """
        deadline = time.monotonic() + timeout
        obj = self.get(name)
        yield obj
        while (remaining := deadline - time.monotonic()) > 0:
            version = obj["metadata"].get("resourceVersion")
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    self.custom.list_namespaced_custom_object,
                    API_GROUP,
                    API_VERSION,
                    self.namespace,
                    PLURAL,
                    field_selector=f"metadata.name={name}",
                    resource_version=version,
                    timeout_seconds=max(1, min(int(remaining) + 1, 300)),
                    _request_timeout=max(2, min(remaining + 5, 310)),
                ):
                    if event["type"] == "DELETED":
                        raise LabctlError(f"experiment {name!r} was deleted")
                    if event["type"] in ("ADDED", "MODIFIED"):
                        obj = event["object"]
                        yield obj
                    if time.monotonic() >= deadline:
                        return
            except (client.ApiException, HTTPError, OSError):
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            finally:
                stream.stop()  # type: ignore[no-untyped-call]
            if time.monotonic() < deadline:
                try:
                    obj = self.get(name)
                except ClusterUnreachable:  # an API server restart must not end a long wait
                    time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
                    continue
                yield obj

    def _object(self, what: str, request: Any) -> Obj:
        return dict(self._call(what, request))

    def _call(self, what: str, request: Any) -> Any:
        try:
            return request()
        except client.ApiException as exc:
            raise LabctlError(f"{what}: {api_error(exc)}") from exc
        except (HTTPError, OSError) as exc:
            raise ClusterUnreachable(f"cannot reach the cluster ({self.where}): {type(exc).__name__}") from exc


def api_error(exc: client.ApiException) -> str:
    """The API server's own message (``experiments.illm.io "x" not found``), not the HTTP dump."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or exc.reason or f"HTTP {exc.status}").splitlines()[0]


# ------------------------------------------------------------------------------ reading objects


def status_of(obj: Obj) -> ExperimentStatus:
    """The typed status; a status this labctl cannot parse (newer gateway) reads as empty, never crashes."""
    try:
        return ExperimentStatus.model_validate(obj.get("status") or {})
    except ValidationError:
        return ExperimentStatus()


def phase_of(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or ExperimentPhase.PENDING.value)


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def target_names(obj: Obj) -> list[str]:
    return [str(t.get("name")) for t in (obj.get("spec") or {}).get("targets") or [] if isinstance(t, dict)]


def reason(status: ExperimentStatus) -> Condition | None:
    """Why the experiment is where it is: the Ready condition, else the newest failing condition."""
    ready = status.condition("Ready")
    if ready is not None:
        return ready
    failing = [c for c in status.conditions or [] if c.status == ConditionStatus.FALSE]
    return max(failing, key=lambda c: c.last_transition_time, default=None)


def created_at(obj: Obj) -> datetime | None:
    return parse_time(obj.get("metadata", {}).get("creationTimestamp"))


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


# --------------------------------------------------------------------------------- presenting


def age(then: datetime | None, now: datetime | None = None) -> str:
    """kubectl-style age: ``42s``, ``7m``, ``3h``, ``5d``; ``-`` when unknown."""
    if then is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def elapsed(seconds: float) -> str:
    """``1m05s`` style, for progress lines."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Left-aligned columns separated by three spaces, like ``kubectl get``; the last column is not padded."""
    cells = [[str(h) for h in headers], *[["-" if v is None or v == "" else str(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return ["   ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + "   " + r[-1] for r in cells]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    for line in table(headers, rows):
        print(line.rstrip())


def condition_text(condition: Condition) -> str:
    text = f"{condition.type}={condition.status} ({condition.reason})"
    return text + (f": {condition.message}" if condition.message else "")
