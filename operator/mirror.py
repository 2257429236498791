"""The operator's writer of the SQL mirror: queued, coalesced, retried, never in the task's way.

Reconciles hand over the latest Task body; a background thread writes snapshots in batches.
When the database is unreachable the queue keeps the newest body per Task (a snapshot holds the
whole history, so nothing is lost by coalescing) and the thread retries with capped backoff;
tasks keep running meanwhile. A version waits up to `gather` seconds (`GATHER_SECONDS`) for others
to share its transaction: a transaction costs the mirror thread about as much as the rows it writes
while they are few, and during a burst (bench/README.md, figure 7) versions come one at a time
faster than the thread writes single-row batches. On start the operator's start-up resync (`main._resync_all`: one
listing of Tasks, Jobs and pods) reconciles every Task, which re-submits each to the mirror: that
repairs whatever the mirror missed while the operator was down.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.schedule_history import schedule_snapshot
from kubetask.store import migrate
from kubetask.store.tables import TaskRow
from kubetask.store.writer import mark_deleted, mark_schedule_deleted, upsert_many, upsert_schedules

from .loops import Loop

log = logging.getLogger("kubetask.operator.mirror")
BATCH = 200
GATHER_SECONDS = 0.2  # how long a queued version waits for others to share its transaction (at most)
FIRST_BACKOFF = 0.5  # seconds after the first failed write; doubled per failure up to `max_backoff`


class Mirror:
    """Asynchronous, idempotent mirror of Task CRs into SQL."""

    def __init__(self, engine: Engine, *, max_backoff: float = 10.0, gather: float = GATHER_SECONDS) -> None:
        self.engine = engine
        self.max_backoff = max_backoff
        self.gather = gather
        self._queued_at: float | None = None  # monotonic time the oldest unwritten submission came; None: none
        self._pending: dict[str, dict[str, Any] | None] = {}  # uid -> newest body (None: deleted)
        self._written: dict[str, str] = {}  # uid -> resourceVersion in the mirror
        self._schedules: dict[str, dict[str, Any] | None] = {}  # TaskSchedule uid -> newest body (None: deleted)
        self._since: dict[str, float] = {}  # uid -> monotonic time its oldest unwritten version was queued
        self._lock = threading.Lock()
        self._busy = False
        self._migrated = False
        self._backoff = FIRST_BACKOFF
        self._retry_at = 0.0  # monotonic time before which no write is tried (after a failure)
        self._loop = Loop("kubetask-mirror", self._step)
        self.healthy = False
        self.primed = threading.Event()  # set once the versions already in SQL are known
        self.snapshots_written = 0

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)

    def submit(self, body: dict[str, Any]) -> None:
        """Queue the newest version of a Task (skipped when already mirrored)."""
        meta = body["metadata"]
        uid, rv = meta["uid"], str(meta.get("resourceVersion", ""))
        with self._lock:
            if self._written.get(uid) == rv and uid not in self._pending:
                return
            old = self._pending.get(uid)
            if old is not None and int(old["metadata"].get("resourceVersion") or 0) > int(rv or 0):
                return
            self._pending[uid] = body
            self._since.setdefault(uid, time.monotonic())
            self._queued()
        self._loop.wake()

    def submit_schedule(self, body: dict[str, Any]) -> None:
        """Queue the newest version of a TaskSchedule (its spec essentials and status counters)."""
        uid = body["metadata"]["uid"]
        with self._lock:
            old = self._schedules.get(uid)
            if old is not None and int(old["metadata"].get("resourceVersion") or 0) > int(
                body["metadata"].get("resourceVersion") or 0
            ):
                return
            self._schedules[uid] = body
            self._queued()
        self._loop.wake()

    def schedule_deleted(self, uid: str) -> None:
        with self._lock:
            self._schedules[uid] = None
            self._queued()
        self._loop.wake()

    def deleted(self, uid: str) -> None:
        with self._lock:
            self._pending[uid] = None
            self._since.setdefault(uid, time.monotonic())
            self._queued()
        self._loop.wake()

    def _queued(self) -> None:
        """Under the lock: something was queued (the gathering starts with the first of them)."""
        if self._queued_at is None:
            self._queued_at = time.monotonic()

    def backlog(self) -> tuple[int, float]:
        """Tasks with a version not yet in SQL, and how long the oldest has waited (seconds; 0: none)."""
        with self._lock:
            oldest = min(self._since.values(), default=None)
            return len(self._since), 0.0 if oldest is None else time.monotonic() - oldest

    def mirrored(self, uid: str, resource_version: str) -> bool:
        """Whether the mirror holds this version of the Task (or a newer one)."""
        with self._lock:
            done = self._written.get(uid)
        if done is None or not done.isdigit() or not resource_version.isdigit():
            return False
        return int(done) >= int(resource_version)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._schedules and not self._busy

    def _prime(self) -> None:
        """Learn which versions the mirror already holds, so that the start-up resync's re-submission
        of every Task writes only the Tasks that changed meanwhile (not every live Task again)."""
        live = select(TaskRow.uid, TaskRow.resource_version).where(TaskRow.deleted_at.is_(None))
        with Session(self.engine) as s:
            held = {uid: str(rv) for uid, rv in s.execute(live)}
        with self._lock:
            for uid, rv in held.items():
                self._written.setdefault(uid, rv)
        self.primed.set()

    def _gathered(self) -> float:
        """Seconds to wait for more submissions before the next write (0: write now)."""
        with self._lock:
            wait = gather_wait(self._queued_at, time.monotonic(), len(self._pending), self.gather)
            if wait == 0.0:
                self._queued_at = None  # what is submitted from now on gathers afresh
            return wait

    def _take(self) -> dict[str, dict[str, Any] | None]:
        with self._lock:
            batch = dict(list(self._pending.items())[:BATCH])
            for uid in batch:
                del self._pending[uid]
            if self._pending and self._queued_at is None:
                self._queued_at = 0.0  # beyond one batch: the rest goes right after, without gathering
            self._busy = bool(batch)
            return batch

    def _requeue(self, batch: dict[str, dict[str, Any] | None]) -> None:
        with self._lock:
            for uid, body in batch.items():
                self._pending.setdefault(uid, body)  # a newer body that arrived meanwhile wins
            self._queued()
            self._busy = False

    def _written_out(self, batch: dict[str, dict[str, Any] | None]) -> None:
        """The batch is in SQL: its Tasks no longer wait, unless a newer version was queued meanwhile."""
        with self._lock:
            for uid in batch:
                if uid not in self._pending:
                    self._since.pop(uid, None)

    def _write(self, batch: dict[str, dict[str, Any] | None]) -> None:
        now = datetime.now(UTC)
        records = {}
        for uid, body in batch.items():
            if body is None:
                continue
            try:
                records[uid] = snapshot(body)
            except ValueError:  # a body the models reject cannot be mirrored; say so, keep going
                log.exception("SQL mirror: cannot read Task %s", uid)
        with Session(self.engine) as s, s.begin():
            upsert_many(s, list(records.values()))
            for uid, body in batch.items():
                if body is None:
                    mark_deleted(s, uid, now)
        with self._lock:
            self.snapshots_written += len(records)
            for uid, body in batch.items():
                if body is not None:
                    self._written[uid] = str(body["metadata"].get("resourceVersion", ""))
                else:
                    self._written.pop(uid, None)
            self._busy = False

    def _write_schedules(self) -> None:
        """Write the queued TaskSchedules (few: one per schedule pass); on failure they stay queued."""
        with self._lock:
            batch, self._schedules = self._schedules, {}
            self._busy = bool(batch)  # not idle until they are in SQL
        if not batch:
            return
        try:
            with Session(self.engine) as s, s.begin():
                upsert_schedules(s, [schedule_snapshot(b) for b in batch.values() if b is not None])
                for uid, body in batch.items():
                    if body is None:
                        mark_schedule_deleted(s, uid, datetime.now(UTC))
        except Exception:
            with self._lock:
                for uid, body in batch.items():
                    self._schedules.setdefault(uid, body)  # a newer body that arrived meanwhile wins
                self._queued()
                self._busy = False
            raise
        with self._lock:
            self._busy = False

    def _step(self) -> float | None:
        """Write one batch; the seconds until the next step (None: until something is submitted)."""
        wait = self._retry_at - time.monotonic()
        if wait > 0:  # a submit woke us during a backoff: keep backing off
            return wait
        try:
            if not self._migrated:
                migrate(self.engine)
                self._prime()
                self._migrated = True
            gathering = self._gathered()
            if gathering > 0:
                return gathering
            self._write_schedules()
            batch = self._take()
            if not batch:
                return None
            try:
                self._write(batch)
            except Exception:  # not lost: retried with the next batch (a newer body wins)
                self._requeue(batch)
                raise
            self._written_out(batch)
        except SQLAlchemyError as e:
            return self._failed(e)
        if not self.healthy:
            log.info("SQL mirror is writing (%d tasks in this batch)", len(batch))
        self.healthy = True
        self._backoff = FIRST_BACKOFF
        return 0.0  # more may be queued

    def _failed(self, e: SQLAlchemyError) -> float:
        """Back off after a failed migrate or write; said once per outage, not once per retry."""
        if self.healthy or self._backoff == FIRST_BACKOFF:
            log.warning("SQL mirror cannot write, retrying (tasks keep running): %s", str(e).split("\n")[0])
        self.healthy = False
        wait = self._backoff
        self._retry_at = time.monotonic() + wait
        self._backoff = min(wait * 2, self.max_backoff)
        return wait


def gather_wait(queued_at: float | None, now: float, pending: int, gather: float) -> float:
    """How long the mirror waits before writing what is queued (pure): nothing queued or a full batch
    (`BATCH` Task versions) waits not at all, else what is left of `gather` since the first came."""
    if queued_at is None or pending >= BATCH:
        return 0.0
    return max(0.0, queued_at + gather - now)
