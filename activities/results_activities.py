"""The results pipeline's activities, ready for the worker: ``RESULTS_ACTIVITIES``.

Target kubeconfigs for metrics discovery come from the Crossplane connection Secrets on the hub
(activities/claims.py), read inside the activity like every other credential.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from activities.analyzer import AnalysisActivities
from activities.claims import read_kubeconfig
from activities.kube import hub_client
from activities.results import ResultsActivities
from activities.results_settings import ResultsSettings
from activities.settings import ActivitySettings

log = logging.getLogger(__name__)


async def kubeconfig_from_hub(target: str, cluster_type: str, cluster_name: str) -> str | None:
    """A remote target's kubeconfig, or None (metrics then come from the hub) when it cannot be read."""

    def read() -> str | None:
        try:
            with hub_client(ActivitySettings()) as api:
                return read_kubeconfig(api, cluster_type, cluster_name)
        except Exception as err:  # no claim, not bound, no hub access: fall back to the hub's metrics
            log.warning("no kubeconfig for target %s (%s): %s; using hub metrics", target, cluster_name, err)
            return None

    return await asyncio.to_thread(read)


def results_activities(settings: ResultsSettings | None = None) -> list[Callable[..., Any]]:
    settings = settings or ResultsSettings()
    results = ResultsActivities(settings, kubeconfig_from_hub)
    analysis = AnalysisActivities(settings)
    return [
        results.collect_metrics,
        results.store_results,
        results.publish_results,
        results.merge_results_pr,
        results.close_results_pr,
        analysis.run_analysis,
    ]


RESULTS_ACTIVITIES: list[Callable[..., Any]] = results_activities()
