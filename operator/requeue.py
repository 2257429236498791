"""Wake-ups: reconcile a Task again at a given time (retry delays, timeouts, TTLs).

One thread and a heap; only the earliest wake-up per Task is kept. Wake-ups live in memory only:
after a restart kopf lists every Task, and each reconcile schedules its wake-up again.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger("kubetask.operator")
Key = tuple[str, str]


class Requeue:
    def __init__(self, action: Callable[[str, str], None]) -> None:
        self._action = action
        self._heap: list[tuple[float, Key]] = []
        self._due: dict[Key, float] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="kubetask-requeue", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()

    def at(self, when: datetime, namespace: str, name: str) -> None:
        """Reconcile (namespace, name) at `when` (or sooner if already asked for)."""
        t = when.astimezone(UTC).timestamp()
        key = (namespace, name)
        with self._cv:
            if key in self._due and self._due[key] <= t:
                return
            self._due[key] = t
            heapq.heappush(self._heap, (t, key))
            self._cv.notify_all()

    def pending(self) -> int:
        with self._cv:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    now = time.time()
                    if self._heap and self._heap[0][0] <= now:
                        t, key = heapq.heappop(self._heap)
                        if self._due.get(key) == t:
                            del self._due[key]
                            break
                        continue
                    self._cv.wait(min(self._heap[0][0] - now, 5.0) if self._heap else 5.0)
                if self._stop:
                    return
            try:
                self._action(*key)
            except Exception:  # keep waking others; the next event or resync retries this one
                log.exception("requeued reconcile of %s/%s failed", *key)
