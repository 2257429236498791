"""The audit trail in SQL: rows the API writes (`record`, `record_many`, `finish_many`, `purge`) and its listing.

The API's second write besides the dead-letter purge (the operator writes everything else). Rows
are newest first, paginated by a cursor over (time, id) like every other listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    String,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from kubetask.store.queries import INVALID_CURSOR, CursorError, _decode, _encode
from kubetask.store.tables import AuditRow, UTCDateTime

SORT = "-time"


def record(conn: Connection, row: dict[str, Any]) -> int:
    """Insert one row (the columns of AuditRow by name) in `conn`'s transaction; its id."""
    key = conn.execute(insert(AuditRow).values(row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def record_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows of refusals in one statement (executemany)."""
    if rows:
        conn.execute(insert(AuditRow), list(rows))


FINISH = (
    update(AuditRow)
    .where(AuditRow.id == bindparam("row_id"))
    .values(
        status=bindparam("status"),
        decision=bindparam("decision"),
        name=func.coalesce(AuditRow.name, bindparam("created", type_=String())),
    )
)


def finish_many(conn: Connection, answers: Sequence[dict[str, Any]]) -> None:
    """Give rows their answers: each `{"row_id", "status", "decision", "created"}` sets status and
    decision, and the name a create made (`created`) where the row had none."""
    if answers:
        conn.execute(FINISH, list(answers))


def purge(session: Session, before: datetime) -> int:
    """Delete rows older than `before`; how many went."""
    result = cast(CursorResult[Any], session.execute(delete(AuditRow).where(AuditRow.time < before)))
    session.commit()
    return int(result.rowcount or 0)


def namespaces(session: Session) -> list[str]:
    """Every namespace the trail has rows of (an index scan of ix_audit_events_ns_time)."""
    stmt = select(AuditRow.namespace).where(AuditRow.namespace.is_not(None)).distinct()
    return [ns for ns in session.scalars(stmt) if ns]


@dataclass(frozen=True)
class AuditQuery:
    namespaces: Sequence[str] | None = None  # only rows of these (None: every namespace and none)
    cluster_rows: bool = True  # rows without a namespace (cluster-wide operations) too
    users: Sequence[str] = ()
    namespace: Sequence[str] = ()
    verbs: Sequence[str] = ()
    decisions: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditRow]
    next_cursor: str | None


def list_audit(session: Session, q: AuditQuery) -> AuditPage:
    """One page of rows matching `q`, newest first; `next_cursor` continues it (CursorError if bad)."""
    stmt = select(AuditRow)
    if q.namespaces is not None:
        seen = AuditRow.namespace.in_(q.namespaces)
        stmt = stmt.where(or_(seen, AuditRow.namespace.is_(None)) if q.cluster_rows else seen)
    elif not q.cluster_rows:
        stmt = stmt.where(AuditRow.namespace.is_not(None))
    if q.users:
        stmt = stmt.where(AuditRow.user.in_(q.users))
    if q.namespace:
        stmt = stmt.where(AuditRow.namespace.in_(q.namespace))
    if q.verbs:
        stmt = stmt.where(AuditRow.verb.in_(q.verbs))
    if q.decisions:
        stmt = stmt.where(AuditRow.decision.in_(q.decisions))
    if q.since is not None:
        stmt = stmt.where(AuditRow.time >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditRow.time < q.until)
    if q.cursor:
        value, row_id = _decode(q.cursor, SORT)
        if not isinstance(value, datetime):
            raise CursorError(INVALID_CURSOR)
        mark = tuple_(literal(value, UTCDateTime()), literal(row_id))
        stmt = stmt.where(tuple_(AuditRow.time, AuditRow.id) < mark)
    rows = list(session.scalars(stmt.order_by(AuditRow.time.desc(), AuditRow.id.desc()).limit(q.limit + 1)))
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return AuditPage(rows, _encode(SORT, rows[-1].time, rows[-1].id) if more and rows else None)
