"""Wake-ups: reconcile a Task (or pass over a TaskSchedule) again at a given time.

One thread and a heap; only the earliest wake-up per Task is kept. Wake-ups live in memory only:
after a restart the operator's start-up resync (`main._resync_all`: one listing of Tasks, Jobs and
pods) reconciles every Task, and each reconcile arms its wake-up again.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from .loops import Loop

log = logging.getLogger("kubetask.operator")
Key = tuple[str, str]

# Longest sleep between two looks at the heap. Wake-ups are wall-clock times (they come from the
# Task's timestamps) while the wait is monotonic, so a clock step is noticed within this long.
MAX_WAIT = 5.0


class Requeue:
    def __init__(self, action: Callable[[str, str], None], *, name: str = "kubetask-requeue") -> None:
        self._action = action
        self._heap: list[tuple[float, Key]] = []
        self._due: dict[Key, float] = {}  # the one wake-up per Task that counts; older heap entries are stale
        self._lock = threading.Lock()
        self._loop = Loop(name, self._step)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def at(self, when: datetime, namespace: str, name: str) -> None:
        """Reconcile (namespace, name) at `when` (or sooner if already asked for)."""
        t = when.astimezone(UTC).timestamp()
        key = (namespace, name)
        with self._lock:
            if key in self._due and self._due[key] <= t:
                return
            self._due[key] = t
            heapq.heappush(self._heap, (t, key))
        self._loop.wake()

    def pending(self) -> int:
        with self._lock:
            return len(self._due)

    def _pop_due(self) -> Key | None:
        """The next Task whose wake-up is due, if any (stale heap entries are dropped on the way)."""
        with self._lock:
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                t, key = heapq.heappop(self._heap)
                if self._due.get(key) == t:
                    del self._due[key]
                    return key
            return None

    def _next_wait(self) -> float:
        with self._lock:
            return min(self._heap[0][0] - time.time(), MAX_WAIT) if self._heap else MAX_WAIT

    def _step(self) -> float:
        while not self._loop.stopping and (key := self._pop_due()) is not None:
            try:
                self._action(*key)
            except Exception:  # keep waking others; the next event or resync retries this one
                log.exception("requeued reconcile of %s/%s failed", *key)
        return self._next_wait()
