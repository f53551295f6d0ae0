"""Rough cloud cost of an experiment: node-hours times list price, per target and in total.

Prices live in ``data/prices.json`` (one table for GKE, EKS and AKS) so updating them is a data change.
Differences from the original (seed §3.6, bug 24): EKS/AKS are priced; an unset machine type is priced
as the provider's default machine (the cluster really gets one), not the 0.10 $/h fallback, which now
only applies to machine types missing from the table and is flagged. The hub costs nothing extra.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field

from activities.results.metrics_snapshot import WireModel
from api.experiment import ClusterSpec, ClusterType, ExperimentSpec

PRICES_FILE = Path(__file__).parent / "data" / "prices.json"
NOTE = (
    "rough estimate: on-demand list prices x nodes x duration; spot/preemptible discounted; "
    "excludes disks, network, control-plane fees and discounts"
)


@dataclass(frozen=True)
class PriceTable:
    providers: dict[str, dict[str, Any]]
    unknown_hourly: float

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        doc = json.loads(path.read_text())
        return cls(providers=doc["providers"], unknown_hourly=float(doc["unknownMachineHourlyUSD"]))


@cache
def default_prices() -> PriceTable:
    return PriceTable.load()


class TargetCost(WireModel):
    provider: str
    machine_type: str | None = None
    node_count: int
    spot: bool
    hourly_rate_usd: float = Field(alias="hourlyRateUSD")
    price_known: bool
    cost_usd: float = Field(alias="costUSD")


class CostEstimate(WireModel):
    """``totalUSD``, ``durationHours``, ``perTarget`` and ``note`` are the original's fields; ``breakdown`` is new."""

    total_usd: float = Field(0.0, alias="totalUSD")
    duration_hours: float
    per_target: dict[str, float]
    breakdown: dict[str, TargetCost]
    note: str = NOTE


def machine_of(cluster: ClusterSpec) -> tuple[str | None, bool]:
    """The machine type field and spot flag that apply to the cluster's provider."""
    if cluster.type == ClusterType.GKE:
        return cluster.machine_type, bool(cluster.preemptible)
    if cluster.type == ClusterType.EKS:
        return cluster.instance_type, bool(cluster.spot)
    if cluster.type == ClusterType.AKS:
        return cluster.vm_size, bool(cluster.spot)
    return None, False


def target_cost(cluster: ClusterSpec, hours: float, prices: PriceTable) -> TargetCost | None:
    provider = str(cluster.type)
    table = prices.providers.get(provider)
    if table is None:  # the hub, or a provider without prices
        return None
    machine, spot = machine_of(cluster)
    machine = machine or table["defaultMachineType"]
    rate = table["hourlyUSD"].get(machine)
    known = rate is not None
    hourly = float(rate) if known else prices.unknown_hourly
    if spot:
        hourly *= float(table["spotMultiplier"])
    nodes = cluster.node_count or 1
    return TargetCost(
        provider=provider,
        machine_type=machine,
        node_count=nodes,
        spot=spot,
        hourly_rate_usd=round(hourly, 6),
        price_known=known,
        cost_usd=round(hourly * nodes * hours, 6),
    )


def estimate(
    spec: ExperimentSpec, created: datetime, completed: datetime, prices: PriceTable | None = None
) -> CostEstimate:
    table = prices or default_prices()
    hours = max((completed - created).total_seconds(), 0.0) / 3600
    breakdown = {t.name: cost for t in spec.targets if (cost := target_cost(t.cluster, hours, table)) is not None}
    per_target = {name: c.cost_usd for name, c in breakdown.items()}
    return CostEstimate(
        total_usd=round(sum(per_target.values()), 6),
        duration_hours=round(hours, 6),
        per_target=per_target,
        breakdown=breakdown,
    )
