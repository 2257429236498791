"""Write a Task snapshot into the mirror: one transaction, idempotent, never older over newer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kubetask.history import TaskRecord
from kubetask.store.tables import AttemptRow, DeadLetterRow, EventRow, LabelRow, TaskRow

_TASK_FIELDS = (
    "namespace", "name", "template", "phase", "reason", "message", "params", "result", "labels",
    "idempotency_key", "created_at", "started_at", "finished_at", "attempt_count", "duration_seconds",
    "resource_version", "spec",
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
    new = row is None
    if row is None:
        row = TaskRow(uid=rec.uid)
        session.add(row)
    for f in _TASK_FIELDS:
        setattr(row, f, getattr(rec, f))
    session.flush()
    # A new row has no labels, attempts or events yet: skip reading them (the common case under load).
    old_labels = (
        set()
        if new
        else {(x.key, x.value) for x in session.scalars(select(LabelRow).where(LabelRow.task_id == row.id))}
    )
    if old_labels != set(rec.labels.items()):
        if not new:
            session.execute(delete(LabelRow).where(LabelRow.task_id == row.id))
        session.add_all(LabelRow(task_id=row.id, key=k, value=v) for k, v in rec.labels.items())
    attempts = (
        {} if new else {a.number: a for a in session.scalars(select(AttemptRow).where(AttemptRow.task_id == row.id))}
    )
    for a in rec.attempts:
        arow = attempts.get(a.number) or AttemptRow(task_id=row.id, number=a.number)
        for f in _ATTEMPT_FIELDS:
            setattr(arow, f, getattr(a, f))
        session.add(arow)
    known = set() if new else set(session.scalars(select(EventRow.key).where(EventRow.task_id == row.id)))
    session.add_all(
        EventRow(task_id=row.id, key=e.key, timestamp=e.timestamp, type=e.type, reason=e.reason, message=e.message)
        for e in rec.events
        if e.key not in known
    )
    _dead_letters(session, row, rec)
    return True


def _dead_letters(session: Session, row: TaskRow, rec: TaskRecord) -> None:
    """Keep dead_letters in step: one row per dead-lettered task; redrives update the original's row."""
    if rec.phase == "DeadLettered":
        dl = session.scalars(select(DeadLetterRow).where(DeadLetterRow.task_id == row.id)).one_or_none()
        if dl is None:
            session.add(DeadLetterRow(
                task_id=row.id, namespace=rec.namespace, name=rec.name, template=rec.template, reason=rec.reason,
                message=rec.message, attempt_count=rec.attempt_count,
                dead_lettered_at=rec.finished_at or rec.created_at, redrive_count=0,
            ))  # fmt: skip
    if rec.redrive_of_uid:
        original = session.scalars(
            select(DeadLetterRow).join(TaskRow, TaskRow.id == DeadLetterRow.task_id)
            .where(TaskRow.uid == rec.redrive_of_uid)
        ).one_or_none()  # fmt: skip
        if (
            original is not None
            and original.last_redrive != rec.name
            and (original.last_redrive_at is None or original.last_redrive_at <= rec.created_at)
        ):
            original.redrive_count += 1
            original.last_redrive = rec.name
            original.last_redrive_at = rec.created_at


def mark_deleted(session: Session, uid: str, when: datetime) -> None:
    """Remember that the Task CR is gone; its history stays."""
    row = session.scalars(select(TaskRow).where(TaskRow.uid == uid)).one_or_none()
    if row is not None and row.deleted_at is None:
        row.deleted_at = when
