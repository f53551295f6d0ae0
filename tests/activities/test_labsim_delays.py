"""The simulator's provisioning and sync delays: right-skewed (log-normal) around the medians, fixed per object."""

from __future__ import annotations

import math
import statistics

from labsim.config import PROVISION_RATIO, SimulatorConfig, sampled_delay


def test_delays_are_log_normal_around_the_median() -> None:
    draws = [sampled_delay(2.0, 0.35, f"provision/{i}") for i in range(2000)]
    logs = [math.log(x) for x in draws]
    print(f"median {statistics.median(draws):.2f} s, p95 {sorted(draws)[1900]:.2f} s, max {max(draws):.2f} s")
    assert abs(statistics.median(draws) / 2.0 - 1) < 0.1
    assert abs(statistics.stdev(logs) - 0.35) < 0.05
    assert statistics.mean(draws) > statistics.median(draws)  # right-skewed: a few clusters take much longer


def test_an_object_keeps_its_delay_and_zero_spread_is_the_median() -> None:
    assert sampled_delay(1.0, 0.35, "sync/uid-1") == sampled_delay(1.0, 0.35, "sync/uid-1")
    assert sampled_delay(1.0, 0.35, "sync/uid-1") != sampled_delay(1.0, 0.35, "sync/uid-2")
    assert sampled_delay(1.0, 0.0, "sync/uid-1") == 1.0


def test_eks_takes_longest_to_create_as_on_the_real_clouds() -> None:
    assert SimulatorConfig.__dataclass_fields__["delay_spread"].default > 0
    assert PROVISION_RATIO["eksclusters"] > PROVISION_RATIO["gkeclusters"] > PROVISION_RATIO["aksclusters"]
