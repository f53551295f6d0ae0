"""Validate: the spec, the component catalog, the depends DAG and the quality gate's budget.

A bad spec is InvalidSpec, naming the field and the fix, before any cluster is paid for.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.activity_calls import ExperimentFailed, PhaseBudget, call
from workflows.lifecycle import Lifecycle

with workflow.unsafe.imports_passed_through():
    from activities.contracts import VALIDATE_EXPERIMENT, ValidateInput, ValidationResult
    from activities.results import judgement
    from api.experiment import ConditionStatus
    from workflows import policies
    from workflows.depends import dependency_problem
    from workflows.status import VALIDATED


async def validate_spec(life: Lifecycle) -> None:
    budget = PhaseBudget("provisioning", life.spec.deadline("provisioning"))
    with life.hub_call():
        result = await call(
            VALIDATE_EXPERIMENT,
            ValidateInput(experiment=life.experiment, spec=life.spec),
            ValidationResult,
            policies.cloud_call(budget.remaining()),
            budget,
            "spec validation",
        )
    if result.problems:
        text = "; ".join(f"{x.field}: {x.message}" + (f" (fix: {x.fix})" if x.fix else "") for x in result.problems)
        life.condition(VALIDATED, ConditionStatus.FALSE, "InvalidSpec", text)
        raise ExperimentFailed("InvalidSpec", text)
    problem = dependency_problem(life.spec.targets)  # before any cluster is paid for
    if not problem and life.changes.gate_budget_at_validation:
        problem = judgement.budget_problem(life.spec)
    if problem:
        life.condition(VALIDATED, ConditionStatus.FALSE, "InvalidSpec", problem)
        raise ExperimentFailed("InvalidSpec", problem)
    life.condition(VALIDATED, ConditionStatus.TRUE, "Valid", "spec and components are valid")
