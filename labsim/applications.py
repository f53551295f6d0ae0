"""Plays ArgoCD for ``argoproj.io/v1alpha1`` Applications in namespace ``argocd``.

An Application is Progressing/OutOfSync first; after its sync delay (log-normal around the median)
its destination namespace is created (with ``managedNamespaceMetadata``), one ConfigMap per source
stands in for the rendered manifests (tracking label ``app.kubernetes.io/instance=<app>``), and it
becomes Synced/Healthy with ``status.resources`` listing them. A destination server that is neither
in-cluster nor a registered cluster Secret, or one its AppProject does not permit (labsim.projects),
gives an ``InvalidSpecError`` condition, as ArgoCD does.
Deleting an Application with the resources finalizer deletes its ConfigMaps first; without it they
are orphaned. Fault ``app-degraded`` keeps it Degraded. Projects, cluster Secrets, namespaces and the
rendered ConfigMaps are looked up in the simulator's stores (:mod:`labsim.lookups`), the API only when
a store lacks them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from posixpath import basename
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from labsim import projects
from labsim.config import Fault, SimulatorConfig, sampled_delay
from labsim.lookups import APPPROJECTS, CLUSTER_SECRETS, NAMESPACES, RENDERED, Lookups
from labsim.objects import CustomObjects, meta, now_rfc3339, object_meta, set_finalizers, uid_of

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"
NAMESPACE = "argocd"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
TRACKING_LABEL = "app.kubernetes.io/instance"
IN_CLUSTER = "https://kubernetes.default.svc"
INVALID_RECHECK_SECONDS = 1.0
"""How soon an Application with an InvalidSpecError is checked again: ArgoCD re-checks when a cluster
Secret or an AppProject changes, and labsim watches neither."""


class ApplicationController:
    def __init__(self, api: client.ApiClient, config: SimulatorConfig, lookups: Lookups) -> None:
        self.custom = CustomObjects(api)
        self.core = client.CoreV1Api(api)
        self.config = config
        self.lookups = lookups
        self.first_seen: dict[str, float] = {}
        self.synced_spec: dict[str, str] = {}
        """uid → hash of the spec last synced (generation also moves on status writes: no status subresource)."""

    def reconcile(self, app: dict[str, Any], faults: set[Fault]) -> float | None:
        """Act on the Application as it is; the seconds until it is looked at again (None: on its next change)."""
        m, uid = meta(app), uid_of(app)
        if m.get("deletionTimestamp"):
            self._delete(app)
            return None
        now = time.monotonic()
        self.first_seen.setdefault(uid, now)
        spec_hash = hashlib.sha256(json.dumps(app.get("spec"), sort_keys=True).encode()).hexdigest()
        if self.synced_spec.get(uid) == spec_hash and self._status_matches(app, faults):
            return None
        problem = self._destination_problem(app)
        if problem:
            self._patch_status(
                app,
                {
                    "sync": {"status": "Unknown"},
                    "health": {"status": "Unknown"},
                    "conditions": [{"type": "InvalidSpecError", "message": problem}],
                },
            )
            return INVALID_RECHECK_SECONDS
        slow = self.config.slow_factor if Fault.SLOW in faults else 1.0
        delay = sampled_delay(self.config.sync_delay, self.config.delay_spread, f"sync/{uid}")
        left = self.first_seen[uid] + delay * slow - now
        if left > 0:
            if not (app.get("status") or {}).get("health"):
                self._patch_status(app, {"sync": {"status": "OutOfSync"}, "health": {"status": "Progressing"}})
            return left
        resources = self._apply(app)
        health = {"status": "Healthy"}
        if Fault.APP_DEGRADED in faults:
            health = {"status": "Degraded", "message": "labsim: simulated Deployment exceeded its progress deadline"}
        self._patch_status(
            app,
            {
                "sync": {"status": "Synced", "revisions": ["labsim"]},
                "health": health,
                "resources": resources,
                "conditions": None,
                "reconciledAt": now_rfc3339(),
                "operationState": {"phase": "Succeeded", "message": "successfully synced (labsim)"},
            },
        )
        self.synced_spec[uid] = spec_hash
        return None

    def _status_matches(self, app: dict[str, Any], faults: set[Fault]) -> bool:
        health = ((app.get("status") or {}).get("health") or {}).get("status")
        return health == ("Degraded" if Fault.APP_DEGRADED in faults else "Healthy")

    def _destination_problem(self, app: dict[str, Any]) -> str | None:
        problem = projects.project_problem(self._project, app)
        if problem:
            return problem
        server = ((app.get("spec") or {}).get("destination") or {}).get("server")
        if server == IN_CLUSTER or server in _servers(self.lookups.select(CLUSTER_SECRETS) or []):
            return None
        listed = self.core.list_namespaced_secret(NAMESPACE, label_selector=CLUSTER_SECRETS.selector)
        if server in _servers([secret.to_dict() for secret in listed.items]):
            return None
        return f"cluster {server!r} has not been configured (no cluster Secret in namespace {NAMESPACE})"

    def _project(self, name: str) -> dict[str, Any] | None:
        stored = self.lookups.get(APPPROJECTS, NAMESPACE, name)
        if stored is not None:
            return stored
        try:
            return self.custom.get(projects.GROUP, projects.VERSION, NAMESPACE, projects.PLURAL, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return None

    def _apply(self, app: dict[str, Any]) -> list[dict[str, Any]]:
        """Create the destination namespace and one ConfigMap per deployable source; return status.resources."""
        name = meta(app)["name"]
        spec = app.get("spec") or {}
        namespace = (spec.get("destination") or {}).get("namespace") or "default"
        sync = spec.get("syncPolicy") or {}
        if "CreateNamespace=true" in (sync.get("syncOptions") or []):
            labels = ((sync.get("managedNamespaceMetadata") or {}).get("labels")) or {}
            self._ensure_namespace(namespace, labels)
        resources = []
        for index, source in enumerate(spec.get("sources") or [spec.get("source") or {}]):
            if source.get("ref") and not (source.get("chart") or source.get("path")):
                continue  # a values-only source renders nothing
            label = _helm_fullname(source) or basename(str(source.get("path") or "").rstrip("/")) or f"source{index}"
            cm_name = f"{name}-{label}"[:253]
            body = client.V1ConfigMap(
                metadata=object_meta(cm_name, {TRACKING_LABEL: name, "labsim.illm.io/simulated": "true"}),
                data={"source.json": json.dumps(source, sort_keys=True)},
            )
            try:
                self.core.create_namespaced_config_map(namespace, body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self.core.replace_namespaced_config_map(cm_name, namespace, body)
            resources.append(
                {
                    "version": "v1",
                    "kind": "ConfigMap",
                    "namespace": namespace,
                    "name": cm_name,
                    "status": "Synced",
                    "health": {"status": "Healthy"},
                }
            )
        return resources

    def _ensure_namespace(self, namespace: str, labels: dict[str, str]) -> None:
        """Create it, or set the managed labels; nothing when the store has it with them (another layer's sync)."""
        stored = self.lookups.get(NAMESPACES, "", namespace)
        if stored is not None and labels.items() <= (meta(stored).get("labels") or {}).items():
            return
        try:
            self.core.create_namespace(client.V1Namespace(metadata=object_meta(namespace, labels)))
        except ApiException as exc:
            if exc.status != 409:
                raise
            if labels:
                self.core.patch_namespace(namespace, {"metadata": {"labels": labels}})

    def _patch_status(self, app: dict[str, Any], status: dict[str, Any]) -> None:
        self.custom.patch((GROUP, VERSION, PLURAL), app, {"status": status})

    def _delete(self, app: dict[str, Any]) -> None:
        m = meta(app)
        finalizers = m.get("finalizers") or []
        if RESOURCES_FINALIZER not in finalizers:
            return
        for namespace, name in sorted(self._rendered(app)):
            try:
                self.core.delete_namespaced_config_map(name, namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        set_finalizers(self.custom, (GROUP, VERSION, PLURAL), app, [f for f in finalizers if f != RESOURCES_FINALIZER])
        self.first_seen.pop(uid_of(app), None)
        self.synced_spec.pop(uid_of(app), None)

    def _rendered(self, app: dict[str, Any]) -> set[tuple[str, str]]:
        """(namespace, name) of the Application's ConfigMaps: the store's (by tracking label) and its status'.

        The status covers one the store has not seen yet; the store one a later sync no longer lists.
        Without a listed store, the API's list by label.
        """
        name = meta(app)["name"]
        found = {
            (str(r.get("namespace")), str(r.get("name")))
            for r in (app.get("status") or {}).get("resources") or []
            if r.get("kind") == "ConfigMap"
        }
        stored = self.lookups.select(RENDERED, TRACKING_LABEL, name)
        if stored is None:
            listed = self.core.list_config_map_for_all_namespaces(label_selector=f"{TRACKING_LABEL}={name}").items
            stored = [{"metadata": cm.metadata.to_dict()} for cm in listed if cm.metadata]
        return found | {(meta(cm)["namespace"], meta(cm)["name"]) for cm in stored}


def _servers(secrets: list[dict[str, Any]]) -> set[str]:
    """The ``server`` of each cluster Secret (``data`` is base64)."""
    return {base64.b64decode((secret.get("data") or {}).get("server") or "").decode() for secret in secrets}


def _helm_fullname(source: dict[str, Any]) -> str:
    """For a chart source, the name Helm charts give their objects (the common ``fullname`` helper): the
    release name when it contains the chart name, else ``<release>-<chart>``; queries may match either."""
    chart = str(source.get("chart") or "")
    release = str((source.get("helm") or {}).get("releaseName") or "")
    if not chart or not release or chart in release:
        return release if chart and release else chart
    return f"{release}-{chart}"
