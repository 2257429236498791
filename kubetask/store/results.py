"""Large results in the SQL mirror: one verdict per (task uid, attempt), with the result when accepted.

Written by the operator's log keeper (`keep_result`, a no-op for an attempt judged already: a
restarted operator that reads the pod again writes nothing new), read by the reconciler
(`verdict`, without the body) before it lets the attempt be Succeeded, and by the API
(`kept_result`, the whole JSON text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.large_results import Verdict
from kubetask.store.once import add_once
from kubetask.store.tables import AttemptResultRow


@dataclass(frozen=True)
class ResultRecord:
    """An attempt's verdict as the keeper writes it; `body` the accepted result's JSON text."""

    task_uid: str
    namespace: str
    task_name: str
    verdict: Verdict
    body: str | None
    kept_at: datetime


def keep_result(session: Session, record: ResultRecord) -> bool:
    """Write the verdict unless this attempt has one; True when this call wrote it. Commits."""
    v = record.verdict
    if verdict(session, record.task_uid, v.attempt) is not None:
        return False
    return add_once(
        session,
        AttemptResultRow(
            task_uid=record.task_uid,
            namespace=record.namespace,
            task_name=record.task_name,
            attempt=v.attempt,
            size=v.size,
            sha256=v.sha256,
            preview=v.preview,
            reason=v.reason,
            message=v.message,
            body=record.body if v.accepted else None,
            kept_at=record.kept_at,
        ),
    )


def verdict(session: Session, task_uid: str, attempt: int) -> Verdict | None:
    """The verdict kept on attempt `attempt` of the Task `task_uid`, or None (the body is not read)."""
    stmt = select(
        AttemptResultRow.size,
        AttemptResultRow.sha256,
        AttemptResultRow.preview,
        AttemptResultRow.reason,
        AttemptResultRow.message,
    ).where(AttemptResultRow.task_uid == task_uid, AttemptResultRow.attempt == attempt)
    row = session.execute(stmt).first()
    if row is None:
        return None
    return Verdict(attempt, row.size, row.sha256, row.preview, reason=row.reason, message=row.message)


def kept_result(session: Session, task_uid: str, attempt: int) -> str | None:
    """The accepted large result's JSON text of that attempt, or None."""
    stmt = select(AttemptResultRow.body).where(
        AttemptResultRow.task_uid == task_uid, AttemptResultRow.attempt == attempt, AttemptResultRow.reason.is_(None)
    )
    return session.scalar(stmt)
