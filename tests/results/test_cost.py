"""Cost estimate: list price × nodes × hours, spot discount, per target and total, for GKE, EKS and AKS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.results.cost_estimate import default_prices, estimate
from api.experiment import ExperimentSpec

START = datetime(2026, 1, 1, tzinfo=UTC)


def spec(*clusters: dict[str, Any]) -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        {
            "targets": [{"name": f"t{i}", "cluster": c} for i, c in enumerate(clusters)],
            "workflow": {"template": "x", "completion": {"mode": "workflow"}},
        }
    )


def test_gke_price_times_nodes_and_hours() -> None:
    cost = estimate(
        spec({"type": "gke", "machineType": "e2-standard-4", "nodeCount": 3}), START, START + timedelta(hours=2)
    )
    assert cost.per_target == {"t0": pytest.approx(0.134 * 3 * 2)}
    assert cost.total_usd == pytest.approx(0.804) and cost.duration_hours == 2.0


def test_spot_and_preemptible_are_discounted_per_provider() -> None:
    hour = START + timedelta(hours=1)
    gke = estimate(spec({"type": "gke", "machineType": "e2-medium", "preemptible": True}), START, hour)
    eks = estimate(spec({"type": "eks", "instanceType": "m5.large", "spot": True}), START, hour)
    aks = estimate(spec({"type": "aks", "vmSize": "Standard_D4s_v3", "spot": True}), START, hour)
    assert gke.total_usd == pytest.approx(0.0335 * 0.2)
    assert eks.total_usd == pytest.approx(0.096 * 0.3)
    assert aks.total_usd == pytest.approx(0.192 * 0.2)
    assert eks.breakdown["t0"].spot and eks.breakdown["t0"].provider == "eks"


def test_unset_machine_type_is_priced_as_the_provider_default() -> None:
    cost = estimate(spec({"type": "gke"}, {"type": "eks"}, {"type": "aks"}), START, START + timedelta(hours=1))
    assert [b.machine_type for b in cost.breakdown.values()] == ["e2-medium", "t3.medium", "Standard_B2s"]
    assert cost.per_target["t0"] == pytest.approx(0.0335)  # the original charged 0.10 here (bug 24)


def test_unknown_machine_type_uses_the_fallback_and_says_so() -> None:
    cost = estimate(spec({"type": "gke", "machineType": "z9-mega"}), START, START + timedelta(hours=1))
    assert cost.breakdown["t0"].price_known is False
    assert cost.total_usd == pytest.approx(default_prices().unknown_hourly)


def test_two_targets_sum_to_the_total_and_the_hub_is_free() -> None:
    cost = estimate(spec({"type": "gke"}, {"type": "hub"}, {"type": "eks"}), START, START + timedelta(minutes=30))
    assert set(cost.per_target) == {"t0", "t2"}
    assert cost.total_usd == pytest.approx(sum(cost.per_target.values()))
    wire = cost.to_json_dict()
    assert set(wire) == {"totalUSD", "durationHours", "perTarget", "breakdown", "note"}
    assert wire["breakdown"]["t0"]["hourlyRateUSD"] == pytest.approx(0.0335)  # type: ignore[index]
