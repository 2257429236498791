"""Write Task and TaskSchedule snapshots into the mirror: one transaction, idempotent, never older over newer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kubetask.history import TaskRecord
from kubetask.models import Phase
from kubetask.schedule_history import ScheduleRecord
from kubetask.store.tables import AttemptRow, DeadLetterRow, EventRow, LabelRow, ScheduleRow, TaskRow

# The columns copied from a snapshot as they are; the key (uid, number) and the children are written apart.
_TASK_FIELDS = (
    "namespace",
    "name",
    "template",
    "phase",
    "reason",
    "message",
    "params",
    "result",
    "labels",
    "idempotency_key",
    "created_at",
    "started_at",
    "finished_at",
    "attempt_count",
    "duration_seconds",
    "resource_version",
    "spec",
    "redrive_of_uid",
    "schedule",
    "schedule_uid",
    "scheduled_time",
)
_SCHEDULE_FIELDS = tuple(f.name for f in fields(ScheduleRecord) if f.name != "uid")
_ATTEMPT_FIELDS = (
    "job_name",
    "pod_name",
    "phase",
    "exit_code",
    "reason",
    "message",
    "started_at",
    "finished_at",
    "duration_seconds",
)


def upsert(session: Session, rec: TaskRecord) -> bool:
    """Store `rec`; False when the mirror already holds a newer version of the Task."""
    return upsert_many(session, [rec])[0]


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def upsert_many(session: Session, recs: Sequence[TaskRecord]) -> list[bool]:
    """Store snapshots of distinct Tasks in a handful of statements whatever their number: existing
    rows and their children are read with one IN query each, new rows are inserted together.
    Returns, per record, False when the mirror already holds a newer version of that Task."""
    uids = [r.uid for r in recs]
    rows: dict[str, TaskRow] = {}
    for chunk in _chunks(uids):
        rows.update((r.uid, r) for r in session.scalars(select(TaskRow).where(TaskRow.uid.in_(chunk))))
    stored: list[bool] = []
    todo: list[tuple[TaskRecord, TaskRow, bool]] = []
    for rec in recs:
        row = rows.get(rec.uid)
        if row is not None and row.resource_version > rec.resource_version:
            stored.append(False)
            continue
        new = row is None
        if row is None:
            row = rows[rec.uid] = TaskRow(uid=rec.uid)
            session.add(row)
        for f in _TASK_FIELDS:
            setattr(row, f, getattr(rec, f))
        todo.append((rec, row, new))
        stored.append(True)
    session.flush()  # ids for the new rows, all inserted at once
    have = _children(session, [row.id for _, row, new in todo if not new])
    recount = set()  # dead letters whose redrives may have changed: a redrive arrived, or the row is new
    for rec, row, new in todo:
        _write_children(session, rec, row, new, have)
        if _dead_letter(session, row, rec):
            recount.add(rec.uid)
        if rec.redrive_of_uid:
            recount.add(rec.redrive_of_uid)
    _count_redrives(session, recount)
    return stored


@dataclass
class _Children:
    labels: dict[int, set[tuple[str, str]]] = field(default_factory=dict)
    attempts: dict[int, dict[int, AttemptRow]] = field(default_factory=dict)
    events: dict[int, set[str]] = field(default_factory=dict)


def _children(session: Session, ids: list[int]) -> _Children:
    """Labels, attempts and event keys of existing rows (new rows have none: skipping them is the common case)."""
    out = _Children()
    for chunk in _chunks(ids):
        for lb in session.scalars(select(LabelRow).where(LabelRow.task_id.in_(chunk))):
            out.labels.setdefault(lb.task_id, set()).add((lb.key, lb.value))
        for at in session.scalars(select(AttemptRow).where(AttemptRow.task_id.in_(chunk))):
            out.attempts.setdefault(at.task_id, {})[at.number] = at
        for task_id, key in session.execute(select(EventRow.task_id, EventRow.key).where(EventRow.task_id.in_(chunk))):
            out.events.setdefault(task_id, set()).add(key)
    return out


def _write_children(session: Session, rec: TaskRecord, row: TaskRow, new: bool, have: _Children) -> None:
    if have.labels.get(row.id, set()) != set(rec.labels.items()):
        if not new:
            session.execute(delete(LabelRow).where(LabelRow.task_id == row.id))
        session.add_all(LabelRow(task_id=row.id, key=k, value=v) for k, v in rec.labels.items())
    attempts = have.attempts.get(row.id, {})
    for a in rec.attempts:
        arow = attempts.get(a.number) or AttemptRow(task_id=row.id, number=a.number)
        for f in _ATTEMPT_FIELDS:
            setattr(arow, f, getattr(a, f))
        session.add(arow)
    known = have.events.get(row.id, set())
    session.add_all(
        EventRow(task_id=row.id, key=e.key, timestamp=e.timestamp, type=e.type, reason=e.reason, message=e.message)
        for e in rec.events
        if e.key not in known
    )


def _dead_letter(session: Session, row: TaskRow, rec: TaskRecord) -> bool:
    """One dead_letters row per dead-lettered task; True when this call added it."""
    if rec.phase != Phase.DEAD_LETTERED:
        return False
    if session.scalars(select(DeadLetterRow.id).where(DeadLetterRow.task_id == row.id)).first() is not None:
        return False
    session.add(
        DeadLetterRow(
            task_id=row.id,
            namespace=rec.namespace,
            name=rec.name,
            template=rec.template,
            reason=rec.reason,
            message=rec.message,
            attempt_count=rec.attempt_count,
            dead_lettered_at=rec.finished_at or rec.created_at,
            redrive_count=0,
        )
    )
    return True


def _count_redrives(session: Session, originals: set[str]) -> None:
    """Derive each original's redrive count and newest redrive from the task rows that name it.

    Counted, not incremented: a redrive's snapshot arrives once per status change, and two redrives
    created in the same second (timestamps have 1 s resolution) arrive in any order, so a counter
    bumped on arrival could not tell a new redrive from a repeat."""
    if not originals:
        return
    session.flush()  # the batch's new rows count too
    redrives: dict[str, list[tuple[datetime, int, str]]] = {}
    for chunk in _chunks(sorted(originals)):
        found = select(TaskRow.redrive_of_uid, TaskRow.created_at, TaskRow.id, TaskRow.name)
        for of, created, rid, name in session.execute(found.where(TaskRow.redrive_of_uid.in_(chunk))):
            redrives.setdefault(str(of), []).append((created, rid, name))
        of_original = select(DeadLetterRow, TaskRow.uid).join(TaskRow, TaskRow.id == DeadLetterRow.task_id)
        for dl, uid in session.execute(of_original.where(TaskRow.uid.in_(chunk))):
            runs = redrives.get(uid, [])
            newest = max(runs, default=None)
            dl.redrive_count = len(runs)
            dl.last_redrive = newest[2] if newest else None
            dl.last_redrive_at = newest[0] if newest else None


def mark_deleted(session: Session, uid: str, when: datetime) -> None:
    """Remember that the Task CR is gone; its history stays."""
    row = session.scalars(select(TaskRow).where(TaskRow.uid == uid)).one_or_none()
    if row is not None and row.deleted_at is None:
        row.deleted_at = when


def upsert_schedules(session: Session, recs: Sequence[ScheduleRecord]) -> list[bool]:
    """Store snapshots of distinct TaskSchedules; per record, False when a newer version is stored."""
    rows: dict[str, ScheduleRow] = {}
    for chunk in _chunks([r.uid for r in recs]):
        rows.update((r.uid, r) for r in session.scalars(select(ScheduleRow).where(ScheduleRow.uid.in_(chunk))))
    stored = []
    for rec in recs:
        row = rows.get(rec.uid)
        if row is not None and row.resource_version > rec.resource_version:
            stored.append(False)
            continue
        if row is None:
            row = rows[rec.uid] = ScheduleRow(uid=rec.uid)
            session.add(row)
        for f in _SCHEDULE_FIELDS:
            setattr(row, f, getattr(rec, f))
        stored.append(True)
    return stored


def mark_schedule_deleted(session: Session, uid: str, when: datetime) -> None:
    """Remember that the TaskSchedule CR is gone; its row and its runs' rows stay."""
    row = session.scalars(select(ScheduleRow).where(ScheduleRow.uid == uid)).one_or_none()
    if row is not None and row.deleted_at is None:
        row.deleted_at = when
