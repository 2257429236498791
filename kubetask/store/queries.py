"""Read side of the mirror: filtered, sorted, cursor-paginated listing of tasks and dead letters; history.

Aggregates (counts, success rate, durations) are in `kubetask.store.aggregates`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    func,
    literal,
    literal_column,
    not_,
    select,
    tuple_,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from kubetask.selectors import Requirement
from kubetask.store.tables import AttemptRow, DeadLetterRow, EventRow, LabelRow, TaskRow, UTCDateTime

SortKey = Literal["created", "name", "finished", "duration"]
SORT_KEYS: tuple[str, ...] = tuple(f"{sign}{key}" for key in get_args(SortKey) for sign in ("", "-"))
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)  # unfinished tasks sort as if they finish last
NO_DURATION = 1e18


class CursorError(ValueError):
    """The cursor does not belong to this listing (or was tampered with)."""


@dataclass(frozen=True)
class TaskQuery:
    namespace: str | None = None
    namespaces: Sequence[str] | None = None  # only these (the ones the caller may list); None: every one
    templates: Sequence[str] = ()
    phases: Sequence[str] = ()
    selector: Sequence[Requirement] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None
    q: str | None = None
    sort: str = "-created"
    limit: int = 50
    cursor: str | None = None


def _sort_column(key: str) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    if key == "created":
        return TaskRow.created_at
    if key == "name":
        return TaskRow.name
    if key == "finished":
        return func.coalesce(TaskRow.finished_at, literal(FAR_FUTURE, UTCDateTime()))
    # inline (not a bound parameter): the expression must read exactly like index ix_tasks_duration
    return func.coalesce(TaskRow.duration_seconds, literal_column("1e18"))  # = NO_DURATION, spelled as in the index


def _encode(sort: str, value: Any, row_id: int) -> str:
    v = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"s": sort, "v": v, "id": row_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


INT64_MAX = 2**63 - 1
TIME_SORTS = ("created", "finished", "time", "deadLettered")  # their cursor values are instants
INVALID_CURSOR = "cursor is not valid: pass the nextCursor of the previous page unchanged"


def valid_row_id(value: Any) -> int:
    """A cursor's row id: an int a database column holds (else ValueError: a forged cursor)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise ValueError(f"not a row id: {value!r}")
    return value


def _decode(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort:
            raise CursorError(f"cursor was made for sort={data['s']!r}, not sort={sort!r}")
        value, rid = data["v"], valid_row_id(data["id"])
        if sort.lstrip("-") in TIME_SORTS and value is not None:
            value = datetime.fromisoformat(value)
        elif sort.lstrip("-") == "duration" and not isinstance(value, int | float):
            raise ValueError(f"not a duration: {value!r}")
    except CursorError:
        raise
    except (ValueError, KeyError, TypeError, OverflowError) as e:
        raise CursorError(INVALID_CURSOR) from e
    return value, rid


def _label_clause(r: Requirement) -> ColumnElement[bool]:
    has = exists().where(LabelRow.task_id == TaskRow.id, LabelRow.key == r.key)
    if r.op == "exists":
        return has
    if r.op == "!exists":
        return not_(has)
    if r.op == "=":
        return has.where(LabelRow.value == r.values[0])
    if r.op == "in":
        return has.where(LabelRow.value.in_(r.values))
    if r.op == "!=":
        return not_(has.where(LabelRow.value == r.values[0]))
    return not_(has.where(LabelRow.value.in_(r.values)))  # notin


def _filters(q: TaskQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.namespace:
        out.append(TaskRow.namespace == q.namespace)
    if q.namespaces is not None:
        out.append(TaskRow.namespace.in_(q.namespaces))
    if q.templates:
        out.append(TaskRow.template.in_(q.templates))
    if q.phases:
        out.append(TaskRow.phase.in_(q.phases))
    if q.created_after:
        out.append(TaskRow.created_at >= q.created_after)
    if q.created_before:
        out.append(TaskRow.created_at < q.created_before)
    if q.finished_after:
        out.append(TaskRow.finished_at >= q.finished_after)
    if q.finished_before:
        out.append(TaskRow.finished_at < q.finished_before)
    if q.q:
        escaped = q.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        out.append(func.lower(TaskRow.name).like(f"%{escaped}%", escape="\\"))
    out += [_label_clause(r) for r in q.selector]
    return out


@dataclass(frozen=True)
class Page:
    items: list[TaskRow]
    next_cursor: str | None


def list_tasks(session: Session, q: TaskQuery) -> Page:
    """One page of tasks matching `q`, in `q.sort` order; `next_cursor` continues it."""
    desc = q.sort.startswith("-")
    key = q.sort.lstrip("-")
    col = _sort_column(key)
    stmt: Select[TaskRow] = select(TaskRow).where(*_filters(q))
    if q.cursor:
        value, row_id = _decode(q.cursor, q.sort)
        pos = tuple_(col, TaskRow.id)
        bound = literal(value, UTCDateTime()) if isinstance(value, datetime) else literal(value)
        mark = tuple_(bound, literal(row_id))
        stmt = stmt.where(pos < mark if desc else pos > mark)
    order = (col.desc(), TaskRow.id.desc()) if desc else (col.asc(), TaskRow.id.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(q.limit + 1)))
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    nxt = None
    if more and rows:
        last = rows[-1]
        value = {
            "created": last.created_at,
            "name": last.name,
            "finished": last.finished_at or FAR_FUTURE,
            "duration": last.duration_seconds if last.duration_seconds is not None else NO_DURATION,
        }[key]
        nxt = _encode(q.sort, value, last.id)
    return Page(rows, nxt)


def count_tasks(session: Session, q: TaskQuery) -> int:
    return int(session.scalar(select(func.count()).select_from(TaskRow).where(*_filters(q))) or 0)


def namespaces(session: Session) -> list[str]:
    """Every namespace history has tasks of (an index scan of ix_tasks_ns_name)."""
    return list(session.scalars(select(TaskRow.namespace).distinct().order_by(TaskRow.namespace)))


def find_task(session: Session, namespace: str, name: str) -> TaskRow | None:
    """The newest task with this name (names are reused after deletion)."""
    stmt = (
        select(TaskRow)
        .where(TaskRow.namespace == namespace, TaskRow.name == name)
        .order_by(TaskRow.created_at.desc(), TaskRow.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def find_by_idempotency_key(session: Session, namespace: str, key: str) -> TaskRow | None:
    stmt = select(TaskRow).where(TaskRow.namespace == namespace, TaskRow.idempotency_key == key)
    return session.scalars(stmt.order_by(TaskRow.id).limit(1)).first()


def attempts(session: Session, task_id: int) -> list[AttemptRow]:
    stmt = select(AttemptRow).where(AttemptRow.task_id == task_id).order_by(AttemptRow.number)
    return list(session.scalars(stmt))


def events(session: Session, task_id: int) -> list[EventRow]:
    stmt = select(EventRow).where(EventRow.task_id == task_id).order_by(EventRow.timestamp, EventRow.id)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class DeadLetterPage:
    items: list[tuple[DeadLetterRow, TaskRow]]
    next_cursor: str | None


def list_dead_letters(
    session: Session,
    *,
    namespace: str | None = None,
    namespaces: Sequence[str] | None = None,
    templates: Sequence[str] = (),
    reasons: Sequence[str] = (),
    pending_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> DeadLetterPage:
    """Dead letters, newest first; `pending_only` hides those already redriven; `namespaces`: only
    those of these namespaces (None: every one)."""
    stmt = select(DeadLetterRow, TaskRow).join(TaskRow, TaskRow.id == DeadLetterRow.task_id)
    if namespace:
        stmt = stmt.where(DeadLetterRow.namespace == namespace)
    if namespaces is not None:
        stmt = stmt.where(DeadLetterRow.namespace.in_(namespaces))
    if templates:
        stmt = stmt.where(DeadLetterRow.template.in_(templates))
    if reasons:
        stmt = stmt.where(DeadLetterRow.reason.in_(reasons))
    if pending_only:
        stmt = stmt.where(DeadLetterRow.redrive_count == 0)
    if cursor:
        value, row_id = _decode(cursor, "-deadLettered")
        if not isinstance(value, datetime):
            raise CursorError(INVALID_CURSOR)
        mark = tuple_(literal(value, UTCDateTime()), literal(row_id))
        stmt = stmt.where(tuple_(DeadLetterRow.dead_lettered_at, DeadLetterRow.id) < mark)
    rows = [
        (dl, t)
        for dl, t in session.execute(
            stmt.order_by(DeadLetterRow.dead_lettered_at.desc(), DeadLetterRow.id.desc()).limit(limit + 1)
        ).all()
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode("-deadLettered", rows[-1][0].dead_lettered_at, rows[-1][0].id) if more and rows else None
    return DeadLetterPage(rows, nxt)


def find_dead_letter(session: Session, namespace: str, name: str) -> tuple[DeadLetterRow, TaskRow] | None:
    stmt = (
        select(DeadLetterRow, TaskRow)
        .join(TaskRow, TaskRow.id == DeadLetterRow.task_id)
        .where(DeadLetterRow.namespace == namespace, DeadLetterRow.name == name)
        .order_by(DeadLetterRow.dead_lettered_at.desc(), DeadLetterRow.id.desc())
        .limit(1)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None
