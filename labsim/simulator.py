"""The simulator loop: poll the hub, let each simulated controller react, repeat every ``poll_interval``.

Polling a test-sized API server every 0.2 s is cheaper and simpler than watches and bounds the
reaction latency the same way. Errors of one round are logged; the next round retries.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from api import names
from labsim.applications import ApplicationController
from labsim.argo import WorkflowController
from labsim.clusters import ClaimController
from labsim.config import EXPERIMENT_UID_LABEL, PLATFORM_NAMESPACES, Fault, SimulatorConfig, faults_of
from labsim.identity import IdentityServer
from labsim.metrics import AgentSimulator
from labsim.objects import CustomObjects, meta, object_meta

log = logging.getLogger(__name__)


class Simulator:
    """Crossplane + ArgoCD + Argo Workflows + Alloy, simulated. ``with Simulator(cfg).running(): ...``"""

    def __init__(self, settings: SimulatorConfig) -> None:
        self.settings = settings
        self.api = config.new_client_from_config(config_file=str(settings.kubeconfig))  # type: ignore[no-untyped-call]
        self.custom = CustomObjects(self.api)
        self.identity = IdentityServer(settings.identity_port).start() if settings.identity_port is not None else None
        self.claims = ClaimController(self.api, settings, self.identity)
        self.apps = ApplicationController(self.api, settings)
        self.workflows = WorkflowController(self.api, settings)
        self.agents = AgentSimulator(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def ensure_platform_namespaces(self) -> None:
        core = client.CoreV1Api(self.api)
        for name in PLATFORM_NAMESPACES:
            try:
                core.create_namespace(client.V1Namespace(metadata=object_meta(name)))
            except ApiException as exc:
                if exc.status != 409:
                    raise
        if self.identity:
            for name, text in self.identity.credentials().items():
                body = client.V1Secret(
                    metadata=object_meta(name), data={"credentials": base64.b64encode(text.encode()).decode()}
                )
                try:
                    core.create_namespaced_secret(names.CONNECTION_NAMESPACE, body)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    core.replace_namespaced_secret(name, names.CONNECTION_NAMESPACE, body)

    def round(self) -> None:
        """One pass of every simulated controller."""
        experiments = self._experiment_faults()

        def faults_for(obj: dict[str, Any]) -> set[Fault]:
            m = meta(obj)
            owner = (m.get("labels") or {}).get(EXPERIMENT_UID_LABEL, "")
            return faults_of(m.get("annotations")) | experiments.get(owner, set())

        self.claims.reconcile_all(faults_for)
        apps = self.apps.list_applications()
        self.apps.reconcile_all(apps, faults_for)
        self.workflows.reconcile_all(faults_for)
        self.agents.tick(self.apps.list_applications())
        self.rounds += 1

    def _experiment_faults(self) -> dict[str, set[Fault]]:
        try:
            items = self.custom.list("experiments.illm.io", "v1alpha1", "experiments")
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise
        return {meta(e)["uid"]: faults_of(meta(e).get("annotations")) for e in items}

    def run_forever(self) -> None:
        self.ensure_platform_namespaces()
        while not self._stop.is_set():
            try:
                self.round()
            except Exception:  # a lab controller keeps going; the next round retries
                log.exception("simulator round failed")
            self._stop.wait(self.settings.poll_interval)

    def start(self) -> Simulator:
        self.ensure_platform_namespaces()
        self._thread = threading.Thread(target=self.run_forever, name="labsim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.agents.close()
        self.api.close()
        if self.identity:
            self.identity.stop()

    @contextmanager
    def running(self) -> Iterator[Simulator]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
