"""The results pipeline's activities, built by the worker from its settings: ``results_activities(settings)``.

Target kubeconfigs for metrics discovery come from the Crossplane connection Secrets on the hub
(activities/clusters/claims.py), read inside the activity like every other credential.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from activities.clusters.claims import read_kubeconfig
from activities.kube import hub_client
from activities.publish.claude_analysis import AnalysisActivities
from activities.results.metrics_collection import KubeconfigSource
from activities.results.pipeline import ResultsActivities
from activities.settings import ActivitySettings, WorkerActivitySettings

log = logging.getLogger(__name__)


def kubeconfig_from_hub(settings: ActivitySettings) -> KubeconfigSource:
    """Reads a remote target's kubeconfig from the hub, or None (metrics then come from the hub)."""

    async def kubeconfig(target: str, cluster_type: str, cluster_name: str) -> str | None:
        def read() -> str | None:
            try:
                with hub_client(settings) as api:
                    return read_kubeconfig(api, cluster_type, cluster_name)
            except Exception as err:  # no claim, not bound, no hub access: fall back to the hub's metrics
                log.warning("no kubeconfig for target %s (%s): %s; using hub metrics", target, cluster_name, err)
                return None

        return await asyncio.to_thread(read)

    return kubeconfig


def results_activities(settings: WorkerActivitySettings) -> list[Callable[..., Any]]:
    results = ResultsActivities(settings, kubeconfig_from_hub(settings))
    analysis = AnalysisActivities(settings)
    return [
        results.collect_metrics,
        results.store_results,
        results.publish_results,
        results.merge_results_pr,
        results.close_results_pr,
        analysis.run_analysis,
    ]
