"""Bounded exponential backoff with jitter: the one retry pace of the gateway (watch, reconcile).

Jitter matters because failures are correlated: when Temporal or the API server comes back, every
key that failed at the same moment would otherwise retry at the same moment, again and again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_MAX_DOUBLINGS = 32
"""2**32 times any sensible initial delay is far past any maximum; it also keeps the float finite."""


@dataclass(frozen=True)
class Backoff:
    initial: float
    maximum: float

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` earlier failures in a row: uniform in [d/2, d] for
        d = min(initial · 2^failures, maximum) ("equal jitter": never less than half the pace)."""
        ceiling = min(self.initial * 2.0 ** min(failures, _MAX_DOUBLINGS), self.maximum)
        return ceiling * random.uniform(0.5, 1.0)
