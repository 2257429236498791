"""Read side of the mirror: filtered, sorted, cursor-paginated listing; history; stats."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from kubetask.models import FINAL_PHASES, Phase
from kubetask.selectors import Requirement
from kubetask.store.tables import AttemptRow, DeadLetterRow, EventRow, LabelRow, TaskRow, UTCDateTime

SortKey = Literal["created", "name", "finished", "duration"]
SORT_KEYS: tuple[str, ...] = tuple(f"{sign}{key}" for key in get_args(SortKey) for sign in ("", "-"))
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)  # unfinished tasks sort as if they finish last
NO_DURATION = 1e18
# The final phases the success rate and the durations count: Cancelled is left out on purpose. A
# task stopped on request neither succeeded nor failed, so cancelling one must not lower the rate,
# and the time it ran until the cancel is not a run time of its template.
SUCCESS_RATE_PHASES: tuple[str, ...] = tuple(p.value for p in Phase if p in FINAL_PHASES and p != Phase.CANCELLED)


class CursorError(ValueError):
    """The cursor does not belong to this listing (or was tampered with)."""


@dataclass(frozen=True)
class TaskQuery:
    namespace: str | None = None
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


def _decode(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort:
            raise CursorError(f"cursor was made for sort={data['s']!r}, not sort={sort!r}")
        value, row_id = data["v"], int(data["id"])
    except CursorError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise CursorError("cursor is not valid: pass the nextCursor of the previous page unchanged") from e
    if sort.lstrip("-") in ("created", "finished") and value is not None:
        value = datetime.fromisoformat(value)
    return value, row_id


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
class Figures:
    total: int
    by_phase: dict[str, int]
    success_rate: float | None
    avg_duration_seconds: float | None
    p95_duration_seconds: float | None
    tasks_per_minute: float


@dataclass(frozen=True)
class Stats:
    window_start: datetime
    window_end: datetime
    overall: Figures
    per_template: dict[str, Figures] = field(default_factory=dict)


def p95_index(n: int) -> int:
    """Nearest-rank 95th percentile: the ceil(0.95 n)-th smallest value (0-based index)."""
    return max(0, math.ceil(0.95 * n) - 1)


def _figures(by_phase: dict[str, int], timed: int, duration_sum: float, p95: float | None, minutes: float) -> Figures:
    total = sum(by_phase.values())
    finished = sum(by_phase.get(p, 0) for p in SUCCESS_RATE_PHASES)
    return Figures(
        total=total,
        by_phase=by_phase,
        success_rate=by_phase.get(Phase.SUCCEEDED, 0) / finished if finished else None,
        avg_duration_seconds=duration_sum / timed if timed else None,
        p95_duration_seconds=p95,
        tasks_per_minute=total / minutes if minutes else 0.0,
    )


def _p95_rank(n: Any) -> Any:
    """The nearest-rank 95th percentile's 1-based rank, ceil(0.95 n), in integer SQL on both backends."""
    return (95 * n + 99) // 100


def stats(session: Session, *, now: datetime, window: timedelta, namespace: str | None = None) -> Stats:
    """Counts, success rate, durations and throughput of tasks created in [now - window, now).

    Two statements whatever the number of templates: counts and duration sums grouped by
    (template, phase), and the nearest-rank p95 per template and overall from one pass of window functions.
    """
    start = now - window
    where: list[ColumnElement[bool]] = [TaskRow.created_at >= start, TaskRow.created_at < now]
    if namespace:
        where.append(TaskRow.namespace == namespace)
    minutes = window.total_seconds() / 60
    is_timed = and_(TaskRow.phase.in_(SUCCESS_RATE_PHASES), TaskRow.duration_seconds.is_not(None))
    timed_duration = case((is_timed, TaskRow.duration_seconds))
    grouped = session.execute(
        select(TaskRow.template, TaskRow.phase, func.count(), func.count(timed_duration), func.sum(timed_duration))
        .where(*where)
        .group_by(TaskRow.template, TaskRow.phase)
    ).all()
    d = TaskRow.duration_seconds
    ranked = (
        select(
            TaskRow.template.label("template"),
            d.label("d"),
            func.row_number().over(partition_by=TaskRow.template, order_by=d).label("rn"),
            func.count().over(partition_by=TaskRow.template).label("n"),
            func.row_number().over(order_by=d).label("rn_all"),
            func.count().over().label("n_all"),
        )
        .where(*where, is_timed)
        .subquery()
    )
    per_template = ranked.c.rn == _p95_rank(ranked.c.n)
    overall = ranked.c.rn_all == _p95_rank(ranked.c.n_all)
    p95: dict[str | None, float] = {}
    p95_all: float | None = None
    for template, value, is_template_p95, is_overall_p95 in session.execute(
        select(ranked.c.template, ranked.c.d, per_template, overall).where(or_(per_template, overall))
    ).all():
        if is_template_p95:
            p95[template] = float(value)
        if is_overall_p95:
            p95_all = float(value)
    phases: dict[str | None, dict[str, int]] = {}
    sums: dict[str | None, tuple[int, float]] = {}
    for template, phase, n, timed, dsum in grouped:
        phases.setdefault(template, {})[str(phase)] = int(n)
        t, s = sums.get(template, (0, 0.0))
        sums[template] = (t + int(timed), s + float(dsum or 0))
    per = {(t or ""): _figures(phases[t], *sums[t], p95.get(t), minutes) for t in phases}
    all_phases: dict[str, int] = {}
    for by_phase in phases.values():
        for phase, n in by_phase.items():
            all_phases[phase] = all_phases.get(phase, 0) + n
    timed_all = sum(t for t, _ in sums.values())
    sum_all = sum(s for _, s in sums.values())
    return Stats(start, now, _figures(all_phases, timed_all, sum_all, p95_all, minutes), per)


@dataclass(frozen=True)
class DeadLetterPage:
    items: list[tuple[DeadLetterRow, TaskRow]]
    next_cursor: str | None


def list_dead_letters(
    session: Session,
    *,
    namespace: str | None = None,
    templates: Sequence[str] = (),
    reasons: Sequence[str] = (),
    pending_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> DeadLetterPage:
    """Dead letters, newest first; `pending_only` hides those already redriven."""
    stmt = select(DeadLetterRow, TaskRow).join(TaskRow, TaskRow.id == DeadLetterRow.task_id)
    if namespace:
        stmt = stmt.where(DeadLetterRow.namespace == namespace)
    if templates:
        stmt = stmt.where(DeadLetterRow.template.in_(templates))
    if reasons:
        stmt = stmt.where(DeadLetterRow.reason.in_(reasons))
    if pending_only:
        stmt = stmt.where(DeadLetterRow.redrive_count == 0)
    if cursor:
        value, row_id = _decode(cursor, "-deadLettered")
        mark = tuple_(literal(datetime.fromisoformat(value), UTCDateTime()), literal(row_id))
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
