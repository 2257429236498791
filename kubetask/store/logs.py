"""Kept logs in the SQL mirror: one row per (task uid, attempt), written once by the operator, read by the API.

`keep_log` is idempotent by attempt (a restarted operator re-reads a pod and re-keeps: the second
write is a no-op); `kept_log` finds the newest Task of a name (names are reused) the way the
history queries do, then its attempt's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.log_capture import joined
from kubetask.store.once import add_once
from kubetask.store.queries import find_task
from kubetask.store.tables import AttemptLogRow


@dataclass(frozen=True)
class LogRecord:
    """One attempt's capped log, as the operator keeps it."""

    task_uid: str
    namespace: str
    task_name: str
    attempt: int
    head: str
    tail: str
    total_bytes: int
    cut: bool
    kept_at: datetime


@dataclass(frozen=True)
class KeptLog:
    head: str
    tail: str
    total_bytes: int
    cut: bool
    kept_at: datetime

    @property
    def text(self) -> str:
        """Head, the cut marker when bytes were dropped, tail."""
        return joined(self.head, self.tail, self.total_bytes, self.cut)


def _exists(session: Session, task_uid: str, attempt: int) -> bool:
    stmt = select(AttemptLogRow.id).where(AttemptLogRow.task_uid == task_uid, AttemptLogRow.attempt == attempt)
    return session.scalar(stmt) is not None


def keep_log(session: Session, record: LogRecord) -> bool:
    """Write the log unless this attempt's is kept already; True when this call wrote it. Commits."""
    if _exists(session, record.task_uid, record.attempt):
        return False
    return add_once(
        session,
        AttemptLogRow(
            task_uid=record.task_uid,
            namespace=record.namespace,
            task_name=record.task_name,
            attempt=record.attempt,
            head=record.head,
            tail=record.tail,
            total_bytes=record.total_bytes,
            cut=record.cut,
            kept_at=record.kept_at,
        ),
    )


def _kept(row: AttemptLogRow) -> KeptLog:
    return KeptLog(head=row.head, tail=row.tail, total_bytes=row.total_bytes, cut=row.cut, kept_at=row.kept_at)


def kept_log(session: Session, namespace: str, task_name: str, attempt: int) -> KeptLog | None:
    """The kept log of `attempt` of the newest Task named `task_name`, or None.

    When the mirror has no row of that name yet (the operator keeps a log as soon as the attempt
    ends, the mirror may write the Task's row later), the newest kept log of that name answers."""
    task = find_task(session, namespace, task_name)
    if task is not None:
        stmt = select(AttemptLogRow).where(AttemptLogRow.task_uid == task.uid, AttemptLogRow.attempt == attempt)
    else:
        stmt = (
            select(AttemptLogRow)
            .where(
                AttemptLogRow.namespace == namespace,
                AttemptLogRow.task_name == task_name,
                AttemptLogRow.attempt == attempt,
            )
            .order_by(AttemptLogRow.kept_at.desc(), AttemptLogRow.id.desc())
            .limit(1)
        )
    row = session.scalars(stmt).first()
    return _kept(row) if row is not None else None
