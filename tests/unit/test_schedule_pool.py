"""The schedules' pass pool (`Requeue` with workers, over `WakeHeap`): due keys are taken earliest
first, ties first asked first; a key is never in two workers at once, and one that falls due
again while a worker has it goes next once that worker is done; different keys run at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from kubetask.operator.requeue import Requeue, WakeHeap


def k(name: str) -> tuple[str, str]:
    return ("ns", name)


def test_due_keys_come_earliest_first_and_ties_in_the_order_asked() -> None:
    heap = WakeHeap()
    for name, t in [("c", 5.0), ("a", 3.0), ("b", 5.0), ("later", 50.0), ("d", 5.0)]:
        heap.at(t, k(name))
    taken = [heap.take(10.0) for _ in range(5)]
    assert taken == [k("a"), k("c"), k("b"), k("d"), None]  # "later" is not due at 10
    assert heap.pending() == 1 and heap.next_at() == 50.0


def test_only_the_earliest_wake_up_of_a_key_counts() -> None:
    heap = WakeHeap()
    assert heap.at(20.0, k("a"))
    assert heap.at(10.0, k("a"))  # sooner: replaces
    assert not heap.at(30.0, k("a"))  # later: ignored
    assert heap.pending() == 1
    assert heap.take(15.0) == k("a")
    assert heap.take(25.0) is None  # the replaced 20.0 entry was stale
    assert heap.pending() == 0


def test_a_key_running_is_not_taken_again_until_done_then_goes_first_by_its_due_time() -> None:
    heap = WakeHeap()
    heap.at(1.0, k("a"))
    assert heap.take(2.0) == k("a")
    assert heap.running() == {k("a")}
    heap.at(1.5, k("a"))  # due again while its worker has it
    heap.at(1.8, k("b"))
    assert heap.take(2.0) == k("b")  # a is held back, b is not
    assert heap.take(2.0) is None
    heap.at(1.2, k("a"))  # sooner still, while held back: counts, taken once
    assert heap.done(k("a"))  # back on the heap: the worker is told
    heap.at(1.9, k("c"))
    assert heap.take(2.0) == k("a")  # its due time (1.2) is before c's
    assert heap.take(2.0) == k("c")
    assert not heap.done(k("b")) and heap.done(k("a")) is False
    assert heap.take(100.0) is None and heap.pending() == 0


def test_a_key_done_with_nothing_due_is_simply_free() -> None:
    heap = WakeHeap()
    heap.at(1.0, k("a"))
    assert heap.take(1.0) == k("a")
    assert not heap.done(k("a"))
    heap.at(3.0, k("a"))
    assert heap.take(2.0) is None and heap.take(3.0) == k("a")


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        Requeue(lambda _ns, _n: None, workers=0)


def test_the_pool_runs_different_keys_at_once_and_one_key_never_twice_at_once() -> None:
    keys = [f"s{i}" for i in range(6)]
    barrier = threading.Barrier(4, timeout=5)  # passes only if four actions run at the same time
    guard = threading.Lock()
    inside: Counter[str] = Counter()
    overlaps: list[str] = []
    done: Counter[str] = Counter()
    met = threading.Event()
    requeue: Requeue | None = None

    def action(_ns: str, name: str) -> None:
        with guard:
            inside[name] += 1
            if inside[name] > 1:
                overlaps.append(name)
        try:
            if name in keys[:4] and done[name] == 0:  # the first four keys' first passes
                barrier.wait()
                met.set()
            assert requeue is not None
            if done[name] < 20:  # each pass asks for another one at once, as a pass that created runs does
                requeue.at(datetime.now(UTC), "ns", name)
                requeue.at(datetime.now(UTC) - timedelta(seconds=1), "ns", name)
            time.sleep(0.001)
        finally:
            with guard:
                inside[name] -= 1
                done[name] += 1

    requeue = Requeue(action, name="test-pool", workers=4)
    requeue.start()
    try:
        now = datetime.now(UTC)
        for name in keys:
            requeue.at(now, "ns", name)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(done[x] >= 21 for x in keys):
            time.sleep(0.02)
    finally:
        requeue.stop(timeout=5)
    assert met.is_set()  # four keys were in four workers at once
    assert overlaps == []
    assert all(done[x] == 21 for x in keys), done  # every wake-up asked for ran once, none lost or doubled
    assert requeue.pending() == 0
