"""Parameters of the Argo validation workflow, exactly as the original operator built them (seed §2.4)."""

from __future__ import annotations

from collections.abc import Mapping

from api.experiment import ExperimentSpec


def argo_parameters(experiment: str, spec: ExperimentSpec, endpoints: Mapping[str, str | None]) -> dict[str, str]:
    """``spec.workflow.params`` plus ``experiment-name``, ``<target>-endpoint``/``-name`` and ``target-*``.

    Operator values win over user params; targets without an endpoint (the hub) get none; the first
    target in spec order that has an endpoint also becomes ``target-endpoint``/``target-name``.
    """
    params = dict(spec.workflow.params or {})
    params["experiment-name"] = experiment
    first: str | None = None
    for target in spec.targets:
        endpoint = endpoints.get(target.name)
        if not endpoint:
            continue
        params[f"{target.name}-endpoint"] = endpoint
        params[f"{target.name}-name"] = target.name
        if first is None:
            first = target.name
            params["target-endpoint"] = endpoint
            params["target-name"] = target.name
    return params
