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
from api.base import ObjectMeta
from api.experiment import Experiment
from api.validation import check_experiment, errors


async def validate_experiment(inp: ValidateInput, settings: ActivitySettings) -> ValidationResult:
    return await asyncio.to_thread(_validate, settings, inp)


def _validate(settings: ActivitySettings, inp: ValidateInput) -> ValidationResult:
    with hub_client(settings) as api:
        catalog = read_catalog(api)
        template = missing_template(CustomObjects(api), inp.spec.workflow.template)
    ref = inp.experiment
    experiment = Experiment(
        metadata=ObjectMeta(name=ref.name, namespace=ref.namespace, uid=ref.uid, generation=ref.generation),
        spec=inp.spec,
    )
    problems = [
        ValidationProblem(field=p.path, message=p.message, fix=p.fix or None)
        for p in errors(check_experiment(experiment, catalog))
    ] + ([template] if template else [])
    return ValidationResult(problems=problems)
