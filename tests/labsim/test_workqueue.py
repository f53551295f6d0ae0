"""The simulator's work queue: a key is queued once, at its earliest due time; a timed one comes out
when it is due (never before), and closing the queue ends every wait."""

from __future__ import annotations

import threading

from labsim.workqueue import WorkQueue

LATER = 3600.0
"""A due time no test reaches."""


def test_a_key_is_queued_once_and_comes_out_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(3):
        queue.add("claim")
    queue.add("app")

    assert queue.take(0) == ["claim", "app"]
    assert queue.take(0) == []


def test_a_timed_key_is_not_handed_out_before_it_is_due() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("claim", after=LATER)

    assert queue.take(0) == []
    assert len(queue) == 1


def test_a_timed_key_comes_out_when_it_is_due() -> None:
    """The requeue of a timed transition: ``take`` waits for it (its timeout is only a deadline)."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add("workflow", after=0.2)

    assert queue.take(60) == ["workflow"]
    assert len(queue) == 0


def test_a_change_brings_a_timed_key_forward_and_a_later_time_does_not_postpone_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("claim", after=LATER)
    queue.add("claim")  # a watch event: handle it now
    queue.add("claim", after=LATER)  # already due sooner: stays due now

    assert queue.take(0) == ["claim"]
    assert queue.take(0) == []


def test_a_waiting_take_returns_on_the_first_add() -> None:
    queue: WorkQueue[str] = WorkQueue()
    adder = threading.Timer(0.1, queue.add, args=("app",))
    adder.start()

    assert queue.take(60) == ["app"]
    adder.join()


def test_close_ends_a_waiting_take() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("claim", after=LATER)
    closer = threading.Timer(0.1, queue.close)
    closer.start()

    assert queue.take(LATER) == []
    closer.join()
