"""The gateway's logger and the context its log lines carry (the format is runtime.logs')."""

from __future__ import annotations

import logging

log = logging.getLogger("crd_gateway")
LOGGERS = ("crd_gateway", "temporalio")


def experiment_context(namespace: str, name: str, workflow_id: str | None = None) -> dict[str, str]:
    context = {"experiment": f"{namespace}/{name}"}
    if workflow_id:
        context["workflow_id"] = workflow_id
    return context
