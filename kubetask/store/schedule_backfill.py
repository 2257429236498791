"""Read side of the mirror for a backfill: which nominal instants of a schedule already ran.

`schedule_runs.instants_already_run` counts every run row of the schedule at an instant, a run
triggered by hand too; a manual run stands for the second it was triggered and is the run of no
nominal instant (as the controller counts it), so one that fell on an instant's second must not
hide that instant from a backfill. Rows are told apart by the trigger label the mirror keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.labels import LABEL_TRIGGER, TRIGGER_MANUAL
from kubetask.store.tables import LabelRow, TaskRow

_CHUNK = 500


def nominal_instants_already_run(
    session: Session, *, namespace: str, schedule_uid: str, instants: Iterable[datetime]
) -> set[datetime]:
    """The instants among `instants` for which the mirror holds a run of this schedule not triggered by hand (UTC)."""
    wanted = sorted({i.astimezone(UTC) for i in instants})
    manual = select(LabelRow.task_id).where(LabelRow.key == LABEL_TRIGGER, LabelRow.value == TRIGGER_MANUAL)
    found: set[datetime] = set()
    for start in range(0, len(wanted), _CHUNK):
        stmt = select(TaskRow.scheduled_time).where(
            TaskRow.namespace == namespace,
            TaskRow.schedule_uid == schedule_uid,
            TaskRow.scheduled_time.in_(wanted[start : start + _CHUNK]),
            TaskRow.id.not_in(manual),
        )
        found.update(t.astimezone(UTC) for t in session.scalars(stmt) if t is not None)
    return found
