"""Every real activity the experiments worker registers (the gateway serves its own two)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.kubernetes_activities import ALL_ACTIVITIES as KUBERNETES_ACTIVITIES
from activities.results_activities import RESULTS_ACTIVITIES

ACTIVITIES: list[Callable[..., Any]] = [*KUBERNETES_ACTIVITIES, *RESULTS_ACTIVITIES]
