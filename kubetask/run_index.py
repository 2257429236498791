"""Every schedule's run Tasks, in memory, so that a schedule's pass reads nothing from the apiserver.

The schedule controller used to LIST a schedule's run Tasks on every pass: one etcd read per pass,
growing with the namespace. `RunIndex` keeps them instead, from what the operator sees anyway:

- `seen(body)`: a Task watch event, or the answer to one of our own writes (a run's status, its
  cancellation). The newest `resourceVersion` wins, so an event that trails our own write's
  answer changes nothing.
- `gone(body)`: a DELETED event. What is left is a tombstone holding the version of the deletion,
  so that a listing begun before it cannot bring the run back.
- `created(body)`: a run Task we just created, not yet seen with a version: it counts at once
  (as existing and active); its ADDED event replaces it.
- `seed(ns, schedule, items, version)`: one LIST of the schedule's runs (a quorum read at
  `version`), on its first pass in this process. A run of the index that the listing lacks and
  that is no newer than the listing is gone; runs newer than the listing (events that overtook
  it) stay.
- `relisted(items, version)`: a LIST of every Task (the sweeper's), the same merge for all
  schedules: the net under a watch that restarted and so never told of a deletion.

Pure: no I/O; times come from `clock` (tombstones are dropped after `TOMBSTONE_SECONDS`, far longer
than any listing takes). Thread-safe: watch events, passes and the Task reconciler call it at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubetask.scheduling import owner_schedule

Body = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)
TOMBSTONE_SECONDS = 600.0
PROVISIONAL = 0  # the version of a run we created whose answer we did not decode


def _version(body: Body) -> int:
    v = str(body.get("metadata", {}).get("resourceVersion", ""))
    return int(v) if v.isdigit() else PROVISIONAL


@dataclass
class _Entry:
    schedule: str | None  # the owning schedule's name; None for a tombstone
    body: Body | None  # None: deleted (a tombstone)
    version: int
    at: float  # when it became a tombstone


class RunIndex:
    """The run Tasks of every TaskSchedule this process has seen, by namespace and schedule."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Key, _Entry] = {}
        self._by_schedule: dict[Key, set[str]] = {}  # (namespace, schedule) → run names
        self._tombstones: OrderedDict[Key, float] = OrderedDict()
        self._seeded: set[Key] = set()

    # -- what the operator sees ---------------------------------------------------------------

    def seen(self, body: Body) -> None:
        """A Task as a watch event or a write's answer shows it (ignored when an older version)."""
        with self._lock:
            self._put(body, _version(body))

    def created(self, body: Body) -> None:
        """A run Task we created: it counts until its first event brings the real version."""
        with self._lock:
            key = _key(body)
            old = self._entries.get(key)
            schedule = owner_schedule(body)
            if schedule is not None and (old is None or old.body is None):  # the create succeeded: none existed
                self._link(key, schedule, body, PROVISIONAL)

    def gone(self, body: Body) -> None:
        """A Task's DELETED event."""
        key = _key(body)
        with self._lock:
            if owner_schedule(body) is not None or key in self._entries:
                self._bury(key, _version(body))

    def seeded(self, ns: str, schedule: str) -> bool:
        with self._lock:
            return (ns, schedule) in self._seeded

    def seed(self, ns: str, schedule: str, items: Iterable[Body], version: int) -> None:
        """Merge one listing of the schedule's runs, read at `version`."""
        with self._lock:
            listed = self._merge(items)
            for name in list(self._by_schedule.get((ns, schedule), ())):
                self._drop_unlisted((ns, name), listed, version)
            self._seeded.add((ns, schedule))

    def relisted(self, items: Iterable[Body], version: int) -> None:
        """Merge a listing of every Task of the cluster (or of the namespaces watched), read at `version`."""
        with self._lock:
            listed = self._merge(items)
            for key in [k for k, e in self._entries.items() if e.body is not None]:
                self._drop_unlisted(key, listed, version)

    def forget(self, ns: str, schedule: str) -> None:
        """The schedule went: its next pass (if it comes back) lists its runs again."""
        with self._lock:
            self._seeded.discard((ns, schedule))

    # -- what a pass reads ----------------------------------------------------------------------

    def runs(self, ns: str, schedule: str) -> list[Body]:
        """The schedule's run Tasks (owned by a schedule of that name; the caller checks the uid)."""
        with self._lock:
            out = []
            for name in sorted(self._by_schedule.get((ns, schedule), ())):
                entry = self._entries.get((ns, name))
                if entry is not None and entry.body is not None:
                    out.append(entry.body)
            return out

    # -- under the lock -------------------------------------------------------------------------

    def _put(self, body: Body, version: int) -> None:
        key = _key(body)
        old = self._entries.get(key)
        if old is not None and old.version > version:
            return  # an older version, or one a tombstone says was deleted since
        schedule = owner_schedule(body)
        if schedule is None:  # not (or no longer) a run: as good as gone from the index
            if old is not None:
                self._bury(key, version)
            return
        self._link(key, schedule, body, version)

    def _link(self, key: Key, schedule: str, body: Body, version: int) -> None:
        self._unlink(key)
        self._entries[key] = _Entry(schedule=schedule, body=body, version=version, at=0.0)
        self._tombstones.pop(key, None)
        self._by_schedule.setdefault((key[0], schedule), set()).add(key[1])
        self._purge()

    def _bury(self, key: Key, version: int) -> None:
        old = self._entries.get(key)
        if old is not None and old.version > version:
            return
        self._unlink(key)
        now = self._clock()
        self._entries[key] = _Entry(schedule=None, body=None, version=version, at=now)
        self._tombstones.pop(key, None)
        self._tombstones[key] = now
        self._purge()

    def _unlink(self, key: Key) -> None:
        old = self._entries.get(key)
        if old is not None and old.schedule is not None:
            names = self._by_schedule.get((key[0], old.schedule))
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._by_schedule[(key[0], old.schedule)]

    def _merge(self, items: Iterable[Body]) -> set[Key]:
        listed = set()
        for body in items:
            listed.add(_key(body))
            self._put(body, _version(body))
        return listed

    def _drop_unlisted(self, key: Key, listed: set[Key], version: int) -> None:
        entry = self._entries.get(key)
        if key not in listed and entry is not None and entry.body is not None and entry.version <= version:
            self._bury(key, version)

    def _purge(self) -> None:
        horizon = self._clock() - TOMBSTONE_SECONDS
        while self._tombstones:
            key, at = next(iter(self._tombstones.items()))
            if at > horizon:
                break
            del self._tombstones[key]
            entry = self._entries.get(key)
            if entry is not None and entry.body is None:
                del self._entries[key]


def _key(body: Body) -> Key:
    meta = body["metadata"]
    return str(meta.get("namespace", "")), str(meta["name"])
