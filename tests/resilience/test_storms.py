"""GitHub 5xx and Claude 429/529 storms while publishing and analysing: retried, recorded, not fatal."""

from __future__ import annotations

import time

from api.experiment import REVIEW_ANNOTATION
from tests.resilience.conftest import NAMESPACE, Obj, ResilienceLab, condition


def publish(body: Obj) -> None:
    body["spec"]["publish"] = True


def test_github_5xx_and_anthropic_429_529_storms_are_retried_and_the_experiment_completes(
    lab: ResilienceLab,
) -> None:
    lab.github.fail_next(502, times=3)
    lab.github.fail_next(503, method="POST", path_contains="/pulls", times=2)
    lab.anthropic.fail_next(429, 529, 429)
    began = time.monotonic()
    name = lab.create("storm", duration="4s", change=publish)

    pending = lab.wait_for(name, lambda s: s.get("reviewPhase") == "Pending", 180, "the review gate opens")
    print(f"\nthrough both storms to the review gate {time.monotonic() - began:.1f} s after the create")
    assert pending["published"] is True and pending["analysisPhase"] == "Succeeded", pending
    lab.custom.patch_namespaced_custom_object(
        "experiments.illm.io",
        "v1alpha1",
        NAMESPACE,
        "experiments",
        name,
        {"metadata": {"annotations": {REVIEW_ANNOTATION: "approved"}}},
    )
    status = lab.wait_for(name, lambda s: s.get("reviewPhase") == "Approved", 120, "the review is applied")

    assert status["phase"] == "Complete", status
    assert condition(status, "Published")["status"] == "True"
    assert condition(status, "AnalysisComplete")["status"] == "True"
    assert all(fault.remaining == 0 for fault in lab.github.faults), "the GitHub storm was not met"
    assert lab.anthropic.failures == [], "the Claude storm was not met"
    statuses = [r.path for r in lab.github.requests]
    assert len(statuses) > 5
    repo = lab.github.repos["lab/results"]
    assert len(repo.pulls) == 1 and next(iter(repo.pulls.values())).merged, "exactly one PR, merged"
    lab.assert_one_claim_ever(name)
    lab.assert_nothing_left(name)
