"""The cluster-facing activities the experiments worker registers: ``worker.build_worker(client, ALL_ACTIVITIES)``.

All are ``async def`` and move blocking kubernetes-client calls to threads, so no activity executor
is needed. ``discover_tutorial_services`` is registered too, ready for the workflow to call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.argo_workflows import resume_argo_workflow, submit_argo_workflow, wait_for_argo_workflow
from activities.argocd import deploy_applications
from activities.cleanup import cleanup_experiment
from activities.crossplane import provision_cluster, wait_for_cluster_ready
from activities.target_plumbing import discover_tutorial_services
from activities.validation import validate_experiment

ALL_ACTIVITIES: list[Callable[..., Any]] = [
    validate_experiment,
    provision_cluster,
    wait_for_cluster_ready,
    deploy_applications,
    submit_argo_workflow,
    wait_for_argo_workflow,
    resume_argo_workflow,
    cleanup_experiment,
    discover_tutorial_services,
]
