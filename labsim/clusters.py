"""Plays Crossplane for the cluster claims (GKECluster, EKSCluster, AKSCluster in group illm.io).

A claim gets a finalizer and a ``spec.resourceRef`` at once, becomes Ready after its provision delay
(log-normal around the kind's median, :func:`labsim.config.sampled_delay`)
with ``status.endpoint`` = the simulator's API server and a connection Secret
``experiment-connections/<xr>-cluster-conn`` holding a working kubeconfig. Deleting it deletes what
lived on the cluster, as deleting a real cluster does: every simulated cluster is the hub's own API
server, so that is the namespaces labelled with the claim's experiment uid (the one ArgoCD created
for the workloads, with what the worker wrote there); once they are gone, the Secret and then the
finalizer. Fault ``provision-fail`` leaves it Synced=False/ReconcileError forever.

With the identity service on (``SimulatorConfig.identity_port``) the Secret looks like the provider's:
GKE ``endpoint`` + ``clusterCA`` and a kubeconfig whose user has no credential; EKS a kubeconfig with
the ``aws eks get-token`` exec user (no static credential; the cluster's cloud name is registered for
the fake STS); AKS the admin kubeconfig of a cluster with local accounts (``kube_config_raw``).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from api import names
from labsim.config import EXPERIMENT_UID_LABEL, PROVISION_RATIO, Fault, SimulatorConfig, sampled_delay
from labsim.identity import IdentityServer
from labsim.kubeconfig import server_of, standalone_kubeconfig
from labsim.lookups import NAMESPACES, Lookups
from labsim.objects import CustomObjects, condition, meta, object_meta, set_finalizers, suffix, uid_of

GROUP, VERSION = "illm.io", "v1alpha1"
CLAIM_KINDS = {"gkeclusters": "GKECluster", "eksclusters": "EKSCluster", "aksclusters": "AKSCluster"}
FINALIZER = "finalizer.apiextensions.crossplane.io"
CONTENTS_RECHECK_SECONDS = 0.5
"""How soon a deleting claim looks again at the namespaces it waits for (in the store: no request)."""


class ClaimController:
    def __init__(
        self, api: client.ApiClient, config: SimulatorConfig, lookups: Lookups, identity: IdentityServer | None = None
    ) -> None:
        self.identity = identity
        self.lookups = lookups
        self.custom = CustomObjects(api)
        self.core = client.CoreV1Api(api)
        self.config = config
        self.endpoint = server_of(config.kubeconfig).removeprefix("https://")
        self.first_seen: dict[str, float] = {}
        self.deleting_since: dict[str, float] = {}

    def reconcile(self, plural: str, claim: dict[str, Any], faults: set[Fault]) -> float | None:
        """Act on the claim as it is; the seconds until its next timed step (None: on its next change)."""
        m, uid = meta(claim), uid_of(claim)
        now = time.monotonic()
        slow = self.config.slow_factor if Fault.SLOW in faults else 1.0
        if m.get("deletionTimestamp"):
            return self._delete(plural, claim, now, slow)
        self.first_seen.setdefault(uid, now)
        xr = self._xr_name(claim)
        if FINALIZER not in (m.get("finalizers") or []) or not (claim.get("spec") or {}).get("resourceRef"):
            self._bind(plural, claim, xr)
            return None
        status = claim.get("status") or {}
        if Fault.PROVISION_FAIL in faults:
            if _condition(status, "Synced") != "False":
                self._status(
                    plural,
                    claim,
                    {
                        "conditions": [
                            condition(
                                "Synced",
                                "False",
                                "ReconcileError",
                                "labsim: simulated provisioning failure (cannot create cluster: quota exceeded)",
                            ),
                            condition("Ready", "False", "Unavailable", "cluster creation failed"),
                        ]
                    },
                )
            return None
        if plural == "eksclusters" and self.identity:
            self.identity.eks_clusters.add(f"illm-{xr}")
        if _condition(status, "Ready") == "True":
            return None
        median = self.config.provision_delay * PROVISION_RATIO[plural]
        left = self.first_seen[uid] + sampled_delay(median, self.config.delay_spread, f"provision/{uid}") * slow - now
        if left > 0:
            if not status.get("conditions"):
                self._status(
                    plural,
                    claim,
                    {
                        "conditions": [
                            condition("Synced", "True", "ReconcileSuccess"),
                            condition("Ready", "False", "Creating"),
                        ]
                    },
                )
            return left
        self._write_connection_secret(xr, plural)
        self._status(
            plural,
            claim,
            {
                "endpoint": self.endpoint,
                "conditions": [
                    condition("Synced", "True", "ReconcileSuccess"),
                    condition("Ready", "True", "Available"),
                ],
            },
        )
        return None

    def _xr_name(self, claim: dict[str, Any]) -> str:
        ref = (claim.get("spec") or {}).get("resourceRef") or {}
        return str(ref.get("name") or f"{meta(claim)['name']}-{suffix(uid_of(claim))}")

    def _bind(self, plural: str, claim: dict[str, Any], xr: str) -> None:
        m = meta(claim)
        ref = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "X" + CLAIM_KINDS[plural], "name": xr}
        finalizers = [*(m.get("finalizers") or []), FINALIZER]
        version = m["resourceVersion"]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": version}, "spec": {"resourceRef": ref}}
        self.custom.patch((GROUP, VERSION, plural), claim, patch)

    def _status(self, plural: str, claim: dict[str, Any], status: dict[str, Any]) -> None:
        self.custom.patch((GROUP, VERSION, plural), claim, {"status": status}, status=True)

    def _write_connection_secret(self, xr: str, plural: str) -> None:
        kubeconfig = standalone_kubeconfig(self.config.kubeconfig, xr)
        values = {"kubeconfig": kubeconfig, "endpoint": self.endpoint}
        if self.identity and plural in ("gkeclusters", "eksclusters"):
            doc = yaml.safe_load(kubeconfig)
            user = doc["users"][0]
            user["user"] = {} if plural == "gkeclusters" else {"exec": _aws_exec(f"illm-{xr}")}
            values["kubeconfig"] = yaml.safe_dump(doc, sort_keys=False)
            if plural == "gkeclusters":
                values["clusterCA"] = doc["clusters"][0]["cluster"].get("certificate-authority-data", "")
        body = client.V1Secret(
            metadata=object_meta(f"{xr}-cluster-conn", {"labsim.illm.io/simulated": "true"}),
            type="connection.crossplane.io/v1alpha1",
            data={k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        )
        try:
            self.core.create_namespaced_secret(names.CONNECTION_NAMESPACE, body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _delete(self, plural: str, claim: dict[str, Any], now: float, slow: float) -> float | None:
        m, uid = meta(claim), uid_of(claim)
        finalizers = m.get("finalizers") or []
        if FINALIZER not in finalizers:
            return None
        since = self.deleting_since.setdefault(uid, now)
        left = since + sampled_delay(self.config.delete_delay, self.config.delay_spread, f"delete/{uid}") * slow - now
        if left > 0:
            return left
        if self._delete_contents(claim):
            return CONTENTS_RECHECK_SECONDS
        try:
            self.core.delete_namespaced_secret(f"{self._xr_name(claim)}-cluster-conn", names.CONNECTION_NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
        set_finalizers(self.custom, (GROUP, VERSION, plural), claim, [f for f in finalizers if f != FINALIZER])
        self.first_seen.pop(uid, None)
        self.deleting_since.pop(uid, None)
        return None

    def _delete_contents(self, claim: dict[str, Any]) -> bool:
        """Delete the namespaces that lived on the cluster; True while any is still there.

        From the namespaces' store (they were made when the experiment deployed, long before), the API
        when it is not listed. Not the hub's own: a claim without an experiment uid owns none.
        """
        uid = (meta(claim).get("labels") or {}).get(EXPERIMENT_UID_LABEL)
        if not uid:
            return False
        stored = self.lookups.select(NAMESPACES, EXPERIMENT_UID_LABEL, uid)
        if stored is None:
            listed = self.core.list_namespace(label_selector=f"{EXPERIMENT_UID_LABEL}={uid}").items
            stored = [self.core.api_client.sanitize_for_serialization(ns) for ns in listed]
        for namespace in stored:
            if not meta(namespace).get("deletionTimestamp"):
                try:
                    self.core.delete_namespace(meta(namespace)["name"])
                except ApiException as exc:
                    if exc.status != 404:
                        raise
        return bool(stored)


def _aws_exec(cluster: str) -> dict[str, Any]:
    args = ["eks", "get-token", "--cluster-name", cluster, "--output", "json"]
    return {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": args}


def _condition(status: dict[str, Any], type_: str) -> str | None:
    return next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == type_), None)
