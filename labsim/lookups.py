"""What the simulated controllers look up, kept by informers as the real controllers keep it.

ArgoCD answers from its caches, not from the API: AppProjects and cluster Secrets (its settings
watch), and the live objects of each destination (its cluster cache: the namespace a sync may have
to create, the resources an Application's finalizer deletes); Argo's workflow controller has a
WorkflowTemplate informer. The simulator used to read each of these from the API for every
Application and Workflow (about 15 requests per hello-app experiment).

A store never decides that something is missing: when it lacks an object (not listed yet, or created
a moment ago) the controller asks the API, as before. The informers only keep what the simulator
needs: ConfigMaps it rendered itself, cluster Secrets only (not every Secret in ``argocd``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client

from runtime.informer import Informer, Kind, Obj

APPPROJECTS = Kind("argoproj.io", "v1alpha1", "appprojects", "argocd", "AppProject")
CLUSTER_SECRETS = Kind("", "v1", "secrets", "argocd", "Secret", "argocd.argoproj.io/secret-type=cluster")
NAMESPACES = Kind("", "v1", "namespaces", None, "Namespace")
RENDERED = Kind("", "v1", "configmaps", None, "ConfigMap", "labsim.illm.io/simulated=true")
"""The ConfigMaps that stand in for an Application's rendered manifests."""
WORKFLOW_TEMPLATES = Kind("argoproj.io", "v1alpha1", "workflowtemplates", None, "WorkflowTemplate")
KINDS = (APPPROJECTS, CLUSTER_SECRETS, NAMESPACES, RENDERED, WORKFLOW_TEMPLATES)


class Lookups:
    """One informer per looked-up kind; ``get``/``select`` answer None whenever the store cannot say."""

    def __init__(self, api: client.ApiClient, connect_timeout: float) -> None:
        self.informers = {kind: Informer(api, kind, connect_timeout) for kind in KINDS}

    def get(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        """The stored object; None: absent, or the store is not listed yet (ask the API)."""
        return self.informers[kind].get((namespace, name))

    def select(self, kind: Kind, label: str | None = None, value: str = "") -> list[Obj] | None:
        """Stored objects (with ``label=value``); None until the store is listed."""
        return self.informers[kind].select(label, value)

    @contextmanager
    def running(self) -> Iterator[None]:
        for informer in self.informers.values():
            informer.start()
        try:
            yield
        finally:
            for informer in self.informers.values():
                informer.stop()
