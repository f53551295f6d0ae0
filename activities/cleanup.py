"""Cleanup of everything an experiment created, found by deterministic name and label (seed §2.9).

Order matters: Applications first (their resources finalizer removes the workloads while the target
still exists), then cluster Secrets, the Argo Workflow and kubeconfig Secrets, then the claims, then
the hub namespace ``<exp>`` — which the original left behind, like the Argo Workflow. Deleting what is
already gone counts as done, so a retried attempt is harmless. Waits are bounded by
``CLEANUP_WAIT_SECONDS``; whatever is still there is reported in ``not_deleted``, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio import activity

from activities import contracts as c
from activities.claims import CLAIM_GROUP, CLAIM_VERSION, claim_kind
from activities.heartbeating import heartbeating
from activities.kube import EXPERIMENT_LABEL, CustomObjects, delete_ignoring_missing, hub_client, is_not_found
from activities.settings import ActivitySettings
from api import names
from api.experiment import ClusterType

ARGO = ("argoproj.io", "v1alpha1")


class Ledger:
    """What was deleted, and what is left with why."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.failed: dict[str, str] = {}

    def delete(self, what: str, call: Callable[[], object]) -> None:
        try:
            if delete_ignoring_missing(call):
                self.deleted.append(what)
        except ApiException as exc:
            self.failed[what] = f"{exc.status} {exc.reason}"

    def report(self, lingering: dict[str, str]) -> c.CleanupReport:
        left = self.failed | lingering
        return c.CleanupReport(deleted=self.deleted, not_deleted=[f"{k}: {v}" for k, v in sorted(left.items())])


@activity.defn(name=c.CLEANUP_EXPERIMENT)
async def cleanup_experiment(inp: c.CleanupInput) -> c.CleanupReport:
    settings = ActivitySettings()
    deadline = time.monotonic() + settings.cleanup_wait_seconds
    ledger = Ledger()
    exp = inp.experiment.name
    remote = [t for t in inp.targets if t.cluster_type != ClusterType.HUB]

    with hub_client(settings) as api:
        custom = CustomObjects(api).api
        core = client.CoreV1Api(api)
        apps = [names.app_name(exp, t.name, layer) for t in inp.targets for layer in names.LAYERS]
        claims = {f"{claim_kind(t.cluster_type).kind}/{t.cluster_name}": t for t in remote}

        def delete_apps() -> None:
            for app in apps:
                delete_app = partial(custom.delete_namespaced_custom_object, *ARGO, names.ARGOCD_NAMESPACE)
                ledger.delete(f"Application/{app}", partial(delete_app, "applications", app))

        def app_left() -> dict[str, str]:
            return {f"Application/{a}": "still deleting (resources finalizer)" for a in apps if _app_exists(custom, a)}

        await heartbeating(asyncio.to_thread(delete_apps), "deleting ArgoCD applications")
        lingering = await _wait_until_gone(app_left, deadline, settings.activity_poll_seconds)

        def delete_the_rest() -> None:
            for t in remote:
                secret = names.argocd_cluster_secret(t.cluster_name)
                ledger.delete(
                    f"Secret/{secret}", partial(core.delete_namespaced_secret, secret, names.ARGOCD_NAMESPACE)
                )
            wf = inp.argo_workflow
            delete_wf = partial(custom.delete_namespaced_custom_object, *ARGO, names.ARGO_WORKFLOWS_NAMESPACE)
            ledger.delete(f"Workflow/{wf}", partial(delete_wf, "workflows", wf))
            for secret in _kubeconfig_secrets(core, inp):
                ns = inp.experiment.namespace
                ledger.delete(f"Secret/{secret}", partial(core.delete_namespaced_secret, secret, ns))
            for what, t in claims.items():
                plural = claim_kind(t.cluster_type).plural
                delete_claim = partial(custom.delete_namespaced_custom_object, CLAIM_GROUP, CLAIM_VERSION)
                ledger.delete(what, partial(delete_claim, names.CLAIM_NAMESPACE, plural, t.cluster_name))
            if _labelled_namespace(core, exp):
                ledger.delete(f"Namespace/{exp}", partial(core.delete_namespace, exp))

        def rest_left() -> dict[str, str]:
            left = {w: "cluster still deleting" for w, t in claims.items() if _claim_exists(custom, t)}
            if _labelled_namespace(core, exp):
                left[f"Namespace/{exp}"] = "still terminating"
            return left

        await heartbeating(asyncio.to_thread(delete_the_rest), "deleting workflows, secrets, claims, namespace")
        lingering |= await _wait_until_gone(rest_left, deadline, settings.activity_poll_seconds)
    return ledger.report(lingering)


async def _wait_until_gone(left: Callable[[], dict[str, str]], deadline: float, interval: float) -> dict[str, str]:
    """Poll until nothing is left or the deadline passes; returns what is left, with why."""
    while True:
        remaining = await asyncio.to_thread(left)
        if not remaining or time.monotonic() >= deadline:
            return {k: f"{v} at the cleanup deadline" for k, v in remaining.items()}
        activity.heartbeat(f"waiting for {', '.join(sorted(remaining))}")
        await asyncio.sleep(interval)


def _exists(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as exc:
        if is_not_found(exc):
            return False
        raise
    return True


def _app_exists(custom: client.CustomObjectsApi, name: str) -> bool:
    return _exists(lambda: custom.get_namespaced_custom_object(*ARGO, names.ARGOCD_NAMESPACE, "applications", name))


def _claim_exists(custom: client.CustomObjectsApi, target: c.CleanupTarget) -> bool:
    plural = claim_kind(target.cluster_type).plural
    return _exists(
        lambda: custom.get_namespaced_custom_object(
            CLAIM_GROUP, CLAIM_VERSION, names.CLAIM_NAMESPACE, plural, target.cluster_name
        )
    )


def _labelled_namespace(core: client.CoreV1Api, experiment: str) -> bool:
    """The hub namespace ``<exp>`` exists and is ours (labelled with the experiment)."""
    try:
        namespace = core.read_namespace(experiment)
    except ApiException as exc:
        if is_not_found(exc):
            return False
        raise
    return ((namespace.metadata and namespace.metadata.labels) or {}).get(EXPERIMENT_LABEL) == experiment


def _kubeconfig_secrets(core: client.CoreV1Api, inp: c.CleanupInput) -> list[str]:
    """The listed tutorial kubeconfig Secrets plus any labelled with the experiment in its namespace."""
    labelled = core.list_namespaced_secret(inp.experiment.namespace, label_selector=f"experiment={inp.experiment.name}")
    found = {s.metadata.name for s in labelled.items if s.metadata and s.metadata.name}
    return sorted(found | set(inp.kubeconfig_secrets))
