"""The simulator's loop: watch the hub, and let the simulated controller of each changed object react.

As the real controllers are, it is driven by watches. One informer (:mod:`runtime.informer`: list,
then watch from that version; list again on ``410 Gone``; back off on errors) per kind a controller
reacts to — the three claim kinds, Applications, Argo Workflows, and Experiments for their fault
annotation. Each event puts its object's key in one work queue (:mod:`labsim.workqueue`), and the
loop reconciles the keys that are due from the informers' stores, so it touches only what changed:

- a controller that waits for a simulated delay (a claim's provisioning, an Application's sync, a
  Workflow's run time) says how long, and the key is due again then;
- an error puts the key back after ``RETRY_SECONDS`` (a 404 too: the object is gone, and then the
  retry finds its store empty, or what it needs, a namespace say, is not there yet), except "changed
  meanwhile" (409): the change's event follows;
- every ``resync_interval`` (± 20 %) every stored object is queued again: the safety net;
- an Experiment whose faults change queues the objects it owns;
- the simulated agents write their samples every ``metrics_interval``.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from api import names
from labsim import applications, argo, clusters
from labsim.applications import ApplicationController
from labsim.argo import WorkflowController
from labsim.clusters import ClaimController
from labsim.config import EXPERIMENT_UID_LABEL, PLATFORM_NAMESPACES, Fault, SimulatorConfig, faults_of
from labsim.identity import IdentityServer
from labsim.lookups import Lookups
from labsim.metrics import AgentSimulator
from labsim.objects import meta, object_meta, uid_of
from labsim.workqueue import WorkQueue
from runtime.informer import Informer, Key, Kind, Listener, jittered, key_of

log = logging.getLogger(__name__)
EXPERIMENTS = Kind("experiments.illm.io", "v1alpha1", "experiments", None, "Experiment")
KINDS = (
    *(Kind(clusters.GROUP, clusters.VERSION, plural, None, title) for plural, title in clusters.CLAIM_KINDS.items()),
    Kind(applications.GROUP, applications.VERSION, applications.PLURAL, applications.NAMESPACE, "Application"),
    Kind(argo.GROUP, argo.VERSION, "workflows", None, "Workflow"),
    EXPERIMENTS,
)
"""What the simulator watches (each kind's plural names it in the work queue: they differ)."""
RETRY_SECONDS = 1.0
"""When an object whose reconcile failed (the API server restarting, say) is tried again."""
CONNECT_TIMEOUT = 10.0
Item = tuple[str, Key | None]
"""(plural, key) of an object to reconcile; key None: every object of that kind (it was listed again)."""


class Simulator:
    """Crossplane + ArgoCD + Argo Workflows + Alloy, simulated. ``with Simulator(cfg).running(): ...``"""

    def __init__(self, settings: SimulatorConfig) -> None:
        self.settings = settings
        self.api = config.new_client_from_config(config_file=str(settings.kubeconfig))  # type: ignore[no-untyped-call]
        self.watch_api = config.new_client_from_config(config_file=str(settings.kubeconfig))  # type: ignore[no-untyped-call]
        """The watches' own connections: each holds one for minutes."""
        self.identity = IdentityServer(settings.identity_port).start() if settings.identity_port is not None else None
        self.lookups = Lookups(self.watch_api, CONNECT_TIMEOUT)
        """What the controllers look up (projects, cluster Secrets, namespaces...) without reacting to it."""
        self.claims = ClaimController(self.api, settings, self.lookups, self.identity)
        self.apps = ApplicationController(self.api, settings, self.lookups)
        self.workflows = WorkflowController(self.api, settings, self.lookups)
        self.agents = AgentSimulator(settings)
        self.informers = {kind.plural: Informer(self.watch_api, kind, CONNECT_TIMEOUT) for kind in KINDS}
        self.queue: WorkQueue[Item] = WorkQueue()
        self.resyncs = 0
        self._experiment_faults: dict[str, set[Fault]] = {}
        """Experiment uid → its faults (only Experiments that have some)."""
        self._experiment_uids: dict[Key, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def synced(self) -> bool:
        """Every watched kind has been listed (a lookup store not listed yet only means API reads)."""
        return all(informer.synced for informer in self.informers.values())

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

    # ------------------------------------------------------------------ the loop

    def run_forever(self) -> None:
        self.ensure_platform_namespaces()
        with self._watching():
            next_resync = time.monotonic() + jittered(self.settings.resync_interval)
            while not self._stop.is_set():
                wake = min(next_resync, self.agents.next_write)
                for item in self.queue.take(max(0.0, wake - time.monotonic())):
                    self._handle(item)
                now = time.monotonic()
                if now >= next_resync:
                    for plural in self.informers:
                        self._queue_every(plural)
                    self.resyncs += 1
                    next_resync = now + jittered(self.settings.resync_interval)
                if now >= self.agents.next_write:
                    self._tick_agents()

    @contextmanager
    def _watching(self) -> Iterator[None]:
        with ExitStack() as stack:
            stack.enter_context(self.lookups.running())
            for plural, informer in self.informers.items():
                stack.enter_context(informer.listening(self._listener(plural)))
                informer.start()
                stack.callback(informer.stop)
            yield

    def _listener(self, plural: str) -> Listener:
        def queue(key: Key | None) -> None:  # on the informer's thread: only queue
            self.queue.add((plural, key))

        return queue

    def _handle(self, item: Item) -> None:
        plural, key = item
        informer = self.informers[plural]
        if key is None:
            self._queue_every(plural)
            return
        if not informer.synced:
            return  # being listed again: the list queues every object
        obj = informer.get(key)
        if plural == EXPERIMENTS.plural:
            self._note_experiment(key, obj)
            return
        if obj is None:
            return  # deleted
        try:
            after = self._reconcile(plural, obj, self._faults_for(obj))
        except ApiException as exc:
            if exc.status == 409:
                return  # changed meanwhile: the change's event brings it back
            if exc.status != 404:  # 404: gone (the retry finds it deleted), or what it needs is not there yet
                log.warning("%s %s: %s", informer.kind.title, key[1], exc.reason)
            after = RETRY_SECONDS
        except Exception:  # a lab controller keeps going; the object is tried again
            log.exception("%s %s: reconcile failed", informer.kind.title, key[1])
            after = RETRY_SECONDS
        if after is not None:
            self.queue.add(item, after)

    def _reconcile(self, plural: str, obj: dict[str, Any], faults: set[Fault]) -> float | None:
        if plural in clusters.CLAIM_KINDS:
            return self.claims.reconcile(plural, obj, faults)
        if plural == applications.PLURAL:
            return self.apps.reconcile(obj, faults)
        return self.workflows.reconcile(obj, faults)

    def _queue_every(self, plural: str) -> None:
        keys = {key_of(obj) for obj in self.informers[plural].select(None) or []}
        if plural == EXPERIMENTS.plural:
            keys |= set(self._experiment_uids)  # also those deleted while the watch was down
        for key in keys:
            self.queue.add((plural, key))

    def _faults_for(self, obj: dict[str, Any]) -> set[Fault]:
        m = meta(obj)
        owner = (m.get("labels") or {}).get(EXPERIMENT_UID_LABEL, "")
        return faults_of(m.get("annotations")) | self._experiment_faults.get(owner, set())

    def _note_experiment(self, key: Key, experiment: dict[str, Any] | None) -> None:
        """Remember its faults (a twin made under the same name replaces the old one's)."""
        previous = self._experiment_uids.pop(key, None)
        uid = uid_of(experiment) if experiment is not None else None
        if previous is not None and previous != uid:
            self._set_faults(previous, set())
        if experiment is not None and uid is not None:
            self._experiment_uids[key] = uid
            self._set_faults(uid, faults_of(meta(experiment).get("annotations")))

    def _set_faults(self, uid: str, faults: set[Fault]) -> None:
        """When an Experiment's faults change, the objects it owns are reconciled again."""
        before = self._experiment_faults.pop(uid, set())
        if faults:
            self._experiment_faults[uid] = faults
        if faults == before:
            return
        for plural, informer in self.informers.items():
            owned = informer.select(EXPERIMENT_UID_LABEL, uid) if plural != EXPERIMENTS.plural else None
            for obj in owned or []:
                self.queue.add((plural, key_of(obj)))

    def _tick_agents(self) -> None:
        try:
            self.agents.tick(self.informers[applications.PLURAL].select(None) or [])
        except Exception:  # the next tick tries again
            log.exception("simulated agents failed")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        self.ensure_platform_namespaces()
        self._thread = threading.Thread(target=self.run_forever, name="labsim", daemon=True)
        self._thread.start()
        return self

    def interrupt(self) -> None:
        """Make :meth:`run_forever` return (safe from a signal handler)."""
        self._stop.set()
        self.queue.close()

    def stop(self) -> None:
        self.interrupt()
        if self._thread:
            self._thread.join(timeout=10)
        self.agents.close()
        self.api.close()
        self.watch_api.close()
        if self.identity:
            self.identity.stop()

    @contextmanager
    def running(self) -> Iterator[Simulator]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
