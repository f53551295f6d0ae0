"""The gateway's retry pace: exponential, capped, jittered (never a fixed beat many keys share)."""

from __future__ import annotations

from crd_gateway.backoff import Backoff


def test_delays_double_up_to_the_maximum_and_are_jittered_down_to_half() -> None:
    backoff = Backoff(initial=0.5, maximum=60.0)
    for failures, ceiling in [(0, 0.5), (1, 1.0), (4, 8.0), (7, 60.0), (10_000, 60.0)]:
        delays = {backoff.delay(failures) for _ in range(200)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, min(delays), max(delays))
        assert len(delays) > 1  # jittered
