"""Client-side rate limits: a token bucket per backend, the way client-go's ``--kube-api-qps/burst`` work.

10,000 Experiments relisted after an outage, or a thousand created at once, must not turn into a
thousand writes in the same second against the API server or a thousand RPCs against the Temporal
frontend. Each call takes a token; ``qps`` tokens come back per second, at most ``burst`` are held.
A caller that has to wait sleeps a little longer than the exact deficit (up to ``jitter`` of it), so
callers that queued together do not all wake on the same tick.
"""

from __future__ import annotations

import asyncio
import random
import time

from crd_gateway import metrics


class RateLimiter:
    def __init__(self, name: str, qps: float, burst: int, jitter: float = 0.1) -> None:
        self.name = name
        self.qps = qps
        self.burst = burst
        self.jitter = jitter
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Take one token, waiting (in arrival order) until one is there."""
        async with self._lock:
            self._refill()
            if self._tokens < 1.0:
                deficit = (1.0 - self._tokens) / self.qps
                wait = deficit * (1.0 + random.uniform(0.0, self.jitter))
                metrics.RATE_LIMIT_WAIT_SECONDS.labels(self.name).inc(wait)
                await asyncio.sleep(wait)
                self._refill()
            self._tokens -= 1.0
        metrics.RATE_LIMITED_CALLS.labels(self.name).inc()

    def _refill(self) -> None:
        moment = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (moment - self._stamp) * self.qps)
        self._stamp = moment
