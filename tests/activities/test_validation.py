"""VALIDATE_EXPERIMENT: the admission rules with the catalog read from the cluster; problems are answers."""

from __future__ import annotations

import pytest

from activities import contracts as c
from activities.validation import validate_experiment
from api.experiment import ExperimentSpec
from tests.activities.conftest import Lab, create_experiment, gke_spec, run

pytestmark = pytest.mark.kube


@pytest.mark.asyncio
async def test_valid_experiment_has_no_problems(lab: Lab, kube_namespace: str) -> None:
    ref = create_experiment(lab, kube_namespace, gke_spec())
    result = await run(
        validate_experiment, c.ValidateInput(experiment=ref, spec=ExperimentSpec.model_validate(gke_spec()))
    )
    assert result.problems == []


@pytest.mark.asyncio
async def test_unknown_component_is_reported_not_raised(lab: Lab, kube_namespace: str) -> None:
    doc = gke_spec([{"name": "app", "cluster": {"type": "gke"}, "components": [{"app": "hello-ap"}]}])
    ref = create_experiment(lab, kube_namespace, doc)
    result = await run(validate_experiment, c.ValidateInput(experiment=ref, spec=ExperimentSpec.model_validate(doc)))
    [problem] = result.problems
    assert problem.field == "spec.targets[0].components[0].app"
    assert "hello-ap" in problem.message
