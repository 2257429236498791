"""Wake-ups: reconcile a Task (or pass over a TaskSchedule) again at a given time.

A heap of wake-ups keyed by (namespace, name), only the earliest per key kept (`WakeHeap`, pure),
and `workers` threads that take the due keys, earliest first (ties: first asked, first taken).
A key is never in two workers at once: a key that falls due again while a worker has it waits
until that worker is done, then goes first among what is due by its due time. The Tasks' wake-ups
run on one thread; the schedules' passes on a small pool (`scheduleWorkers`), so that many
schedules due at the same instant do not wait for each other's apiserver round trips.

Wake-ups live in memory only: after a restart the operator's start-up resync (`main._resync_all`:
one listing of Tasks, Jobs and pods) reconciles every Task, and each reconcile arms its wake-up
again; the schedules' listing does the same for every TaskSchedule.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger("kubetask.operator")
Key = tuple[str, str]

# Longest sleep between two looks at the heap. Wake-ups are wall-clock times (they come from the
# Task's timestamps) while the wait is monotonic, so a clock step is noticed within this long.
MAX_WAIT = 5.0


class WakeHeap:
    """The wake-ups and which keys are being worked on (pure; the caller holds a lock)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Key]] = []
        self._due: dict[Key, float] = {}  # the one wake-up per key that counts; other heap entries are stale
        self._seq = itertools.count()
        self._running: set[Key] = set()
        self._parked: set[Key] = set()  # fell due while running: back on the heap when done

    def at(self, t: float, key: Key) -> bool:
        """Wake `key` at `t` (Unix seconds) unless it is already to be woken no later; whether it changed."""
        if key in self._due and self._due[key] <= t:
            return False
        self._due[key] = t
        if key not in self._parked:
            heapq.heappush(self._heap, (t, next(self._seq), key))
        return True

    def take(self, now: float) -> Key | None:
        """The earliest due key that no worker has (now marked running), or None."""
        while self._heap and self._heap[0][0] <= now:
            t, _seq, key = heapq.heappop(self._heap)
            if self._due.get(key) != t or key in self._parked:
                continue  # stale: a sooner wake-up replaced it, or it already waits for its worker
            if key in self._running:
                self._parked.add(key)
                continue
            del self._due[key]
            self._running.add(key)
            return key
        return None

    def done(self, key: Key) -> bool:
        """A worker finished `key`; whether a wake-up of it is due or pending again (back on the heap)."""
        self._running.discard(key)
        if key in self._parked:
            self._parked.discard(key)
            heapq.heappush(self._heap, (self._due[key], next(self._seq), key))
            return True
        return False

    def next_at(self) -> float | None:
        """When the earliest wake-up on the heap falls due (maybe a stale one: an early look is harmless)."""
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        return len(self._due)

    def running(self) -> frozenset[Key]:
        return frozenset(self._running)


class Requeue:
    """`workers` daemon threads running `action(namespace, name)` for each wake-up when it falls due."""

    def __init__(
        self,
        action: Callable[[str, str], None],
        *,
        name: str = "kubetask-requeue",
        workers: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._action = action
        self._clock = clock
        self._heap = WakeHeap()
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=name if workers == 1 else f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current actions; with `timeout`, wait up to that long for each thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if timeout is not None:
            for t in self._threads:
                if t.is_alive():
                    t.join(timeout)

    def at(self, when: datetime, namespace: str, name: str) -> None:
        """Reconcile (namespace, name) at `when` (or sooner if already asked for)."""
        t = when.astimezone(UTC).timestamp()
        with self._cond:
            if self._heap.at(t, (namespace, name)):
                self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return self._heap.pending()

    def _next(self) -> Key | None:
        """Wait for a due key no other worker has; None when stopping."""
        with self._cond:
            while not self._stopping:
                now = self._clock()
                key = self._heap.take(now)
                if key is not None:
                    return key
                nxt = self._heap.next_at()
                self._cond.wait(MAX_WAIT if nxt is None else min(max(nxt - now, 0.0), MAX_WAIT))
            return None

    def _work(self) -> None:
        while (key := self._next()) is not None:
            try:
                self._action(*key)
            except Exception:  # keep waking others; the next event or resync retries this one
                log.exception("requeued reconcile of %s/%s failed", *key)
            finally:
                with self._cond:
                    if self._heap.done(key):
                        self._cond.notify()
