"""VALIDATE_EXPERIMENT: the admission rules of ``api.validation`` against the hub's Components and WorkflowTemplates.

Every reference is checked here, before the workflow claims a cluster: a Component or WorkflowTemplate
the hub lacks would otherwise fail only after provisioning and deployment were paid for. Invalid input
is an answer, not an error: the problems are returned and the workflow fails the experiment with them.
Only a hub that cannot be read raises (and is retried).
"""

from __future__ import annotations

import asyncio

from activities.contracts import ValidateInput, ValidationProblem, ValidationResult
from activities.deploy.component_sources import read_catalog
from activities.kube import CustomObjects, hub_client
from activities.run.argo_workflows import missing_template
from activities.settings import ActivitySettings
from activities.watches import HubWatches
from api.base import ObjectMeta
from api.component import Component
from api.experiment import Experiment
from api.validation import check_experiment, errors


async def validate_experiment(inp: ValidateInput, settings: ActivitySettings, watches: HubWatches) -> ValidationResult:
    return await asyncio.to_thread(_validate, settings, inp, watches)


def _validate(settings: ActivitySettings, inp: ValidateInput, watches: HubWatches) -> ValidationResult:
    """Against the informer's catalog; any problem is checked again against the API's own, so a store
    that lags (a Component just added or fixed) never rejects an experiment."""
    with hub_client(settings) as api:
        problems = _problems(inp, read_catalog(api, watches))
        if problems:
            problems = _problems(inp, read_catalog(api))
        template = missing_template(CustomObjects(api), inp.spec.workflow.template, watches)
    return ValidationResult(problems=problems + ([template] if template else []))


def _problems(inp: ValidateInput, catalog: dict[str, Component]) -> list[ValidationProblem]:
    ref = inp.experiment
    experiment = Experiment(
        metadata=ObjectMeta(name=ref.name, namespace=ref.namespace, uid=ref.uid, generation=ref.generation),
        spec=inp.spec,
    )
    return [
        ValidationProblem(field=p.path, message=p.message, fix=p.fix or None)
        for p in errors(check_experiment(experiment, catalog))
    ]
