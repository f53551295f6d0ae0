"""Failures of the simulated cloud end the experiment Failed with the cause named, and clean up everything."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.resilience.conftest import Obj, ResilienceLab, condition


@dataclass(frozen=True)
class Failure:
    fault: str
    condition: str
    reason: str
    says: str
    deadlines: dict[str, str] = field(default_factory=dict)

    def change(self, body: Obj) -> None:
        if self.deadlines:
            body["spec"]["deadlines"] = self.deadlines


FAILURES = {  # keys are generateName prefixes: a gke claim name allows 29 characters
    "provision-fail": Failure("provision-fail", "Provisioned", "ProvisioningFailed", "simulated provisioning failure"),
    "app-degraded": Failure(
        "app-degraded", "Deployed", "DeadlineExceeded", "deploying deadline of 8s exceeded", {"deploying": "8s"}
    ),
    "wf-fail": Failure("workflow-fail", "Ready", "ArgoWorkflowFailed", "ended Failed"),
    "deadline": Failure(
        "slow", "Provisioned", "DeadlineExceeded", "provisioning deadline of 3s exceeded", {"provisioning": "3s"}
    ),
}


@pytest.fixture(scope="module")
def started(lab: ResilienceLab) -> dict[str, str]:
    """All four run at once; each test then waits for its own."""
    return {case: lab.create(case, faults=(f.fault,), change=f.change) for case, f in FAILURES.items()}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failure_ends_failed_naming_the_cause_and_leaves_nothing_labelled_with_the_experiment(
    lab: ResilienceLab, started: dict[str, str], case: str
) -> None:
    failure, name = FAILURES[case], started[case]

    status = lab.wait_final(name, "Failed", timeout=150)

    cause = condition(status, failure.condition)
    assert cause["status"] == "False" and cause["reason"] == failure.reason, cause
    assert failure.says in cause["message"], cause
    assert condition(status, "Ready")["reason"] == failure.reason
    assert status["resourcesCleaned"] is True, condition(status, "Cleanup")
    lab.assert_nothing_left(name)
    lab.assert_one_claim_ever(name)
