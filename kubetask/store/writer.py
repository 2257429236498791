"""Write a Task snapshot into the mirror: one transaction, idempotent, never older over newer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kubetask.history import TaskRecord
from kubetask.store.tables import AttemptRow, EventRow, LabelRow, TaskRow

_TASK_FIELDS = (
    "namespace", "name", "template", "phase", "reason", "message", "params", "result", "labels",
    "idempotency_key", "created_at", "started_at", "finished_at", "attempt_count", "duration_seconds",
    "resource_version",
)  # fmt: skip
_ATTEMPT_FIELDS = (
    "job_name", "pod_name", "phase", "exit_code", "reason", "message", "started_at", "finished_at",
    "duration_seconds",
)  # fmt: skip


def upsert(session: Session, rec: TaskRecord) -> bool:
    """Store `rec`; False when the mirror already holds a newer version of the Task."""
    row = session.scalars(select(TaskRow).where(TaskRow.uid == rec.uid)).one_or_none()
    if row is not None and row.resource_version > rec.resource_version:
        return False
    if row is None:
        row = TaskRow(uid=rec.uid)
        session.add(row)
    for f in _TASK_FIELDS:
        setattr(row, f, getattr(rec, f))
    session.flush()
    if {(lab.key, lab.value) for lab in session.scalars(select(LabelRow).where(LabelRow.task_id == row.id))} != set(
        rec.labels.items()
    ):
        session.execute(delete(LabelRow).where(LabelRow.task_id == row.id))
        session.add_all(LabelRow(task_id=row.id, key=k, value=v) for k, v in rec.labels.items())
    attempts = {a.number: a for a in session.scalars(select(AttemptRow).where(AttemptRow.task_id == row.id))}
    for a in rec.attempts:
        arow = attempts.get(a.number) or AttemptRow(task_id=row.id, number=a.number)
        for f in _ATTEMPT_FIELDS:
            setattr(arow, f, getattr(a, f))
        session.add(arow)
    known = set(session.scalars(select(EventRow.key).where(EventRow.task_id == row.id)))
    session.add_all(
        EventRow(task_id=row.id, key=e.key, timestamp=e.timestamp, type=e.type, reason=e.reason, message=e.message)
        for e in rec.events
        if e.key not in known
    )
    return True


def mark_deleted(session: Session, uid: str, when: datetime) -> None:
    """Remember that the Task CR is gone; its history stays."""
    row = session.scalars(select(TaskRow).where(TaskRow.uid == uid)).one_or_none()
    if row is not None and row.deleted_at is None:
        row.deleted_at = when
