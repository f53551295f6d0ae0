"""Cleanup of everything one Experiment object created, found by its uid label (seed §2.9).

Every object an experiment creates carries ``experiments.illm.io/experiment-uid=<uid>`` (api.names,
activities.kube.experiment_labels), so cleanup lists by that label and deletes only what it finds: a
namesake in another namespace, or an earlier Experiment of the same name, is never touched.

Order matters: Applications first (their resources finalizer removes the workloads while the target
still exists), then cluster Secrets, the Argo Workflow and kubeconfig Secrets, then the claims, then
the hub workload namespace of a ``hub`` target — which the original left behind, like the Argo
Workflow. A provisioned cluster's namespaces go with the cluster (in the lab, labsim deletes them when
it deletes the simulated cluster); the wait still covers any namespace labelled with the experiment. Deleting what is
already gone counts as done, so a retried attempt is harmless. Waits for disappearance are woken by the
worker's watches (activities/watches.py) and bounded by ``CLEANUP_WAIT_SECONDS``; whatever is still
there is reported in ``not_deleted``, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from activities.clusters.claims import CLAIM_GROUP, CLAIM_VERSION, claim_kind, watched_claims
from activities.contracts import CleanupInput, CleanupReport
from activities.deploy.argocd import APPLICATIONS
from activities.heartbeating import heartbeating
from activities.kube import EXPERIMENT_UID_LABEL, CustomObjects, delete_ignoring_missing, hub_client, uid_selector
from activities.settings import ActivitySettings
from activities.watches import HubWatches, Kind
from api import names
from api.experiment import ClusterType

ARGO = ("argoproj.io", "v1alpha1")
NAMESPACES = Kind("", "v1", "namespaces", None, "Namespace")


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

    def report(self, lingering: dict[str, str]) -> CleanupReport:
        left = self.failed | lingering
        return CleanupReport(deleted=self.deleted, not_deleted=[f"{k}: {v}" for k, v in sorted(left.items())])


class Owned:
    """The Experiment's objects on the hub, listed by its uid label: ``{"Kind/name": delete call}``."""

    def __init__(self, api: client.ApiClient, inp: CleanupInput) -> None:
        self.custom = CustomObjects(api)
        self.core = client.CoreV1Api(api)
        self.selector = uid_selector(inp.experiment)
        self.namespace = inp.experiment.namespace
        remote = [t for t in inp.targets if t.cluster_type != ClusterType.HUB]
        self.on_hub = len(remote) < len(inp.targets)
        self.experiment = inp.experiment
        self.targets = [t.name for t in inp.targets]
        self.remote_clusters = [names.claim_name(inp.experiment, t.name) for t in remote]
        self.claim_kinds = list(dict.fromkeys(claim_kind(t.cluster_type) for t in remote))

    def applications(self) -> dict[str, Callable[[], object]]:
        return self._custom(ARGO, names.ARGOCD_NAMESPACE, "applications", "Application")

    def workflows(self) -> dict[str, Callable[[], object]]:
        return self._custom(ARGO, names.ARGO_WORKFLOWS_NAMESPACE, "workflows", "Workflow")

    def claims(self) -> dict[str, Callable[[], object]]:
        found: dict[str, Callable[[], object]] = {}
        for kind in self.claim_kinds:
            found |= self._custom((CLAIM_GROUP, CLAIM_VERSION), names.CLAIM_NAMESPACE, kind.plural, kind.kind)
        return found

    def secrets(self) -> dict[str, Callable[[], object]]:
        """ArgoCD cluster Secrets and tutorial kubeconfig Secrets, by their derived names.

        Not listed by label: listing Secrets is reading them all, and the worker may not read ``argocd``'s.
        """
        wanted = [(names.ARGOCD_NAMESPACE, names.argocd_cluster_secret(c)) for c in self.remote_clusters]
        wanted += [(self.namespace, names.kubeconfig_secret(self.experiment, t)) for t in self.targets]
        return {
            f"Secret/{namespace}/{name}": partial(self.core.delete_namespaced_secret, name, namespace)
            for namespace, name in wanted
        }

    def namespaces(self) -> dict[str, Callable[[], object]]:
        """Workload namespaces on the hub, if a target is the hub; one already terminating is only waited for.

        A provisioned cluster's workload namespace lives on that cluster and goes with it: listing the
        hub for it would find nothing (in the lab, where every cluster is the hub, the simulator deletes
        it with the cluster). Deleting one is what makes kube-controller-manager's namespace controller
        LIST and DELETE (a collection) every namespaced kind in it, present or not — about 85 requests,
        among them the DELETE of ``appprojects`` and ``workflowtemplates``: no code of ours deletes those.
        """
        if not self.on_hub:
            return {}
        return {
            f"Namespace/{_meta(ns).name}": partial(self.core.delete_namespace, str(_meta(ns).name))
            for ns in self.core.list_namespace(label_selector=self.selector).items
            if not _meta(ns).deletion_timestamp
        }

    def _custom(
        self, group_version: tuple[str, str], namespace: str, plural: str, kind: str
    ) -> dict[str, Callable[[], object]]:
        delete = partial(self.custom.api.delete_namespaced_custom_object, *group_version, namespace, plural)
        return {
            f"{kind}/{obj['metadata']['name']}": partial(delete, obj["metadata"]["name"])
            for obj in self.custom.list(*group_version, plural, namespace, self.selector)
        }


async def cleanup_experiment(inp: CleanupInput, settings: ActivitySettings, watches: HubWatches) -> CleanupReport:
    deadline = time.monotonic() + settings.cleanup_wait_seconds
    ledger = Ledger()
    uid = inp.experiment.uid

    with hub_client(settings) as api:
        owned = Owned(api, inp)

        def delete_all(*groups: Callable[[], dict[str, Callable[[], object]]]) -> None:
            for group in groups:
                for what, delete in group().items():
                    ledger.delete(what, delete)

        await heartbeating(asyncio.to_thread(delete_all, owned.applications), "deleting ArgoCD applications")
        apps = [(APPLICATIONS, "still deleting (resources finalizer)")]
        lingering = await watches.until_gone(apps, EXPERIMENT_UID_LABEL, uid, deadline)

        await heartbeating(
            asyncio.to_thread(delete_all, owned.secrets, owned.workflows, owned.claims, owned.namespaces),
            "deleting workflows, secrets, claims, namespaces",
        )
        rest = [(watched_claims(kind), "cluster still deleting") for kind in owned.claim_kinds]
        lingering |= await watches.until_gone(
            [*rest, (NAMESPACES, "still terminating")], EXPERIMENT_UID_LABEL, uid, deadline
        )
    return ledger.report({k: f"{v} at the cleanup deadline" for k, v in lingering.items()})


def _meta(obj: client.V1Secret | client.V1Namespace) -> client.V1ObjectMeta:
    return obj.metadata or client.V1ObjectMeta()
