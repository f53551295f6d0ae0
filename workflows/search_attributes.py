"""Search attributes of an experiment workflow: the one definition the workflow, worker and labctl use."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

EXPERIMENT_PHASE = SearchAttributeKey.for_keyword("ExperimentPhase")
EXPERIMENT_NAME = SearchAttributeKey.for_keyword("ExperimentName")
EXPERIMENT_NAMESPACE = SearchAttributeKey.for_keyword("ExperimentNamespace")
TARGET_TYPES = SearchAttributeKey.for_keyword_list("TargetTypes")

ALL: tuple[SearchAttributeKey[Any], ...] = (
    EXPERIMENT_PHASE,
    EXPERIMENT_NAME,
    EXPERIMENT_NAMESPACE,
    TARGET_TYPES,
)
