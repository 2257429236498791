"""Read side of the mirror for schedules: which instants ran, a schedule's runs page by page, their figures.

Runs are found by the link each run Task's row keeps (`tasks.schedule`, `schedule_uid`,
`scheduled_time`), so they outlive the Task CRs the history limits delete. "Did this instant run"
asks by the schedule's uid: a schedule deleted and created again under the same name starts a new
history of instants. A schedule's page of runs asks by namespace and name: what users call the
schedule, across such re-creations.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, literal, select, tuple_
from sqlalchemy.orm import Session

from kubetask.models import Phase
from kubetask.store.aggregates import SUCCESS_RATE_PHASES
from kubetask.store.queries import INVALID_CURSOR, CursorError, valid_row_id
from kubetask.store.tables import ScheduleRow, TaskRow, UTCDateTime

_CHUNK = 500
_ORDER = "-scheduled"  # the one order of a schedule's runs: newest instant first


def instants_already_run(
    session: Session, *, namespace: str, schedule_uid: str, instants: Iterable[datetime]
) -> set[datetime]:
    """The instants among `instants` for which the mirror holds a run Task of this schedule (in UTC)."""
    wanted = sorted({i.astimezone(UTC) for i in instants})
    found: set[datetime] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        stmt = select(TaskRow.scheduled_time).where(
            TaskRow.namespace == namespace,
            TaskRow.schedule_uid == schedule_uid,
            TaskRow.scheduled_time.in_(chunk),
        )
        found.update(t.astimezone(UTC) for t in session.scalars(stmt) if t is not None)
    return found


def find_schedule(session: Session, namespace: str, name: str) -> ScheduleRow | None:
    """The newest schedule with this name (a live one before a deleted one)."""
    stmt = (
        select(ScheduleRow)
        .where(ScheduleRow.namespace == namespace, ScheduleRow.name == name)
        .order_by(ScheduleRow.deleted_at.is_not(None), ScheduleRow.created_at.desc(), ScheduleRow.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


@dataclass(frozen=True)
class RunsPage:
    items: list[TaskRow]
    next_cursor: str | None


def _encode(instant: datetime, row_id: int) -> str:
    raw = json.dumps({"s": _ORDER, "v": instant.isoformat(), "id": row_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != _ORDER:
            raise ValueError(data["s"])
        return datetime.fromisoformat(data["v"]), valid_row_id(data["id"])
    except (ValueError, KeyError, TypeError, OverflowError) as e:
        raise CursorError(INVALID_CURSOR) from e


def _of(namespace: str, schedule: str) -> list[ColumnElement[bool]]:
    return [TaskRow.namespace == namespace, TaskRow.schedule == schedule, TaskRow.scheduled_time.is_not(None)]


def list_schedule_runs(
    session: Session, *, namespace: str, schedule: str, limit: int = 50, cursor: str | None = None
) -> RunsPage:
    """One page of the schedule's runs, newest instant first; `next_cursor` continues it."""
    stmt = select(TaskRow).where(*_of(namespace, schedule))
    if cursor:
        instant, row_id = _decode(cursor)
        mark = tuple_(literal(instant, UTCDateTime()), literal(row_id))
        stmt = stmt.where(tuple_(TaskRow.scheduled_time, TaskRow.id) < mark)
    stmt = stmt.order_by(TaskRow.scheduled_time.desc(), TaskRow.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    nxt = _encode(last.scheduled_time, last.id) if last is not None and last.scheduled_time else None
    return RunsPage(rows, nxt)


@dataclass(frozen=True)
class RunFigures:
    total: int
    by_phase: dict[str, int]
    success_rate: float | None  # Succeeded / (Succeeded + Failed + DeadLettered): Cancelled counts for neither
    last_run_time: datetime | None  # the newest instant that has a run


def run_figures(session: Session, *, namespace: str, schedule: str) -> RunFigures:
    """Counts of the schedule's runs by phase and their success rate, over its whole history."""
    latest = func.max(TaskRow.scheduled_time, type_=UTCDateTime())
    stmt = select(TaskRow.phase, func.count(), latest).where(*_of(namespace, schedule)).group_by(TaskRow.phase)
    by_phase: dict[str, int] = {}
    newest: datetime | None = None
    for phase, n, at in session.execute(stmt):
        by_phase[str(phase)] = int(n)
        if at is not None and (newest is None or at > newest):
            newest = at
    finished = sum(by_phase.get(p, 0) for p in SUCCESS_RATE_PHASES)
    return RunFigures(
        total=sum(by_phase.values()),
        by_phase=by_phase,
        success_rate=by_phase.get(Phase.SUCCEEDED.value, 0) / finished if finished else None,
        last_run_time=newest,
    )
