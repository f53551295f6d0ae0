"""Every real activity the experiments worker registers (the gateway serves its own two), built from the
worker's one settings object: nothing below reads the environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.kubernetes_activities import KubernetesActivities
from activities.results_activities import results_activities
from activities.settings import WorkerActivitySettings


def activities(settings: WorkerActivitySettings) -> list[Callable[..., Any]]:
    return [*KubernetesActivities(settings).all(), *results_activities(settings)]
