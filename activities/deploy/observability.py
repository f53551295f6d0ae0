"""Which components a target's Application (or layer) carries, including the injected observability.

With observability enabled the platform adds, as the original did (seed §3.9): ``metrics-agent``
(Grafana Alloy) stamped with ``experiment=<name>``; for ``transport: tailscale`` also
``metrics-egress`` (the Tailscale egress Service to the hub) and the ``tailscale-operator`` (infra
layer). The agent's Alloy configuration remote-writes to its env var ``REMOTE_WRITE_URL``, which is
injected for each transport: the metrics-egress Service for ``tailscale``, ``METRICS_DIRECT_WRITE_URL``
for ``direct`` (the original injected no route at all and its values hard-coded the egress, so
``direct`` wrote nowhere).
"""

from __future__ import annotations

from activities.deploy.contracts import Layer
from activities.errors import ApplicationFailed
from activities.settings import ActivitySettings
from api.experiment import ComponentRef, Target, Transport

EXPERIMENT_PARAM = "alloy.extraEnv[0].value"
REMOTE_WRITE_NAME_PARAM = "alloy.extraEnv[1].name"
REMOTE_WRITE_VALUE_PARAM = "alloy.extraEnv[1].value"
REMOTE_WRITE_ENV = "REMOTE_WRITE_URL"
EGRESS_WRITE_URL = "http://vm-hub.observability.svc:8428/api/v1/write"
"""The metrics-egress Service on the target: Tailscale forwards it to the hub's VictoriaMetrics."""


def infra_refs(target: Target, settings: ActivitySettings) -> list[ComponentRef]:
    obs = target.observability
    if not (obs and obs.enabled and obs.transport == Transport.TAILSCALE):
        return []
    params: dict[str, str] = {}
    if settings.tailscale_client_id and settings.tailscale_client_secret:
        params = {
            "oauth.clientId": settings.tailscale_client_id,
            "oauth.clientSecret": settings.tailscale_client_secret.get_secret_value(),
        }
    return [ComponentRef(app="tailscale-operator", params=params or None)]


def obs_refs(experiment: str, target: Target, settings: ActivitySettings) -> list[ComponentRef]:
    obs = target.observability
    if not (obs and obs.enabled):
        return []
    url = EGRESS_WRITE_URL
    if obs.transport == Transport.DIRECT:
        if not settings.metrics_direct_write_url:
            raise ApplicationFailed(
                f"target {target.name} uses observability transport direct, but the platform has no "
                "METRICS_DIRECT_WRITE_URL (the hub's VictoriaMetrics remote-write URL) configured"
            )
        url = settings.metrics_direct_write_url
    agent = {EXPERIMENT_PARAM: experiment, REMOTE_WRITE_NAME_PARAM: REMOTE_WRITE_ENV, REMOTE_WRITE_VALUE_PARAM: url}
    if obs.transport == Transport.DIRECT:
        return [ComponentRef(app="metrics-agent", params=agent)]
    return [ComponentRef(config="metrics-egress"), ComponentRef(app="metrics-agent", params=agent)]


def layer_refs(
    experiment: str, target: Target, layer: Layer, layered: bool, settings: ActivitySettings
) -> list[ComponentRef]:
    """The refs of one layer; a non-layered target gets everything in its single Application."""
    user = list(target.components or [])
    if not layered:
        return user + infra_refs(target, settings) + obs_refs(experiment, target, settings)
    if layer == "infra":
        return infra_refs(target, settings)
    if layer == "obs":
        return obs_refs(experiment, target, settings)
    return user
