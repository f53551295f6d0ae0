"""The simulated controllers' work queue: which objects to reconcile, now or at a later time.

A key is in the queue at most once, at its earliest due time: a change (a watch event) adds it now,
a timed transition (a claim Ready after its provision delay, a Workflow done after its run time)
adds it for later, and whichever comes first wins. :meth:`WorkQueue.take` hands out every key that
is due, in due order, as controller-runtime's delaying queue does.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._due: dict[K, float] = {}
        """key → the monotonic time it is due (the heap may hold older entries for it: skipped)"""
        self._heap: list[tuple[float, int, K]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._closed = False

    def add(self, key: K, after: float = 0.0) -> None:
        """Due in ``after`` seconds, unless it is already due sooner."""
        due = time.monotonic() + max(0.0, after)
        with self._changed:
            current = self._due.get(key)
            if current is not None and current <= due:
                return
            self._due[key] = due
            heapq.heappush(self._heap, (due, next(self._order), key))
            self._changed.notify()

    def close(self) -> None:
        """Wake :meth:`take` for good: it returns nothing from now on."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._due)

    def take(self, timeout: float) -> list[K]:
        """The keys due now (removed from the queue), waiting up to ``timeout`` s for the first of them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                taken = []
                while self._heap and self._heap[0][0] <= now:
                    due, _, key = heapq.heappop(self._heap)
                    if self._due.get(key) == due:
                        del self._due[key]
                        taken.append(key)
                if taken:
                    return taken
                while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # a key re-added sooner, or already taken
                wake = min(self._heap[0][0], deadline) if self._heap else deadline
                if wake <= now:
                    return []
                self._changed.wait(wake - now)
            return []
