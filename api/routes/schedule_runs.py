"""Route: a schedule's runs from history, with their results and the success rate.

Read from the SQL mirror alone, so runs the history limits deleted (and schedules deleted since)
are still listed. A name with neither a mirrored schedule nor any run is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from kubetask.store import schedule_runs
from kubetask.store.queries import CursorError
from kubetask.store.tables import TaskRow

from ..bodies import ApiModel
from ..deps import Name, Namespace, SessionsDep, SettingsDep, check_page_size
from ..openapi import READ_ONE, errors
from ..problems import FieldProblem, invalid, not_found
from .tasks import Cursor, Limit

router = APIRouter(tags=["schedules"])


class ScheduleRunPublic(ApiModel):
    """One run of a schedule: the Task it created and how it ended."""

    name: str = Field(description="Name of the run Task.")
    scheduled_time: datetime = Field(description="The nominal time it ran for.")
    phase: str = Field(description="The Task's phase, as last mirrored.")
    reason: str | None = Field(default=None, description="Why it ended so.")
    started_at: datetime | None = Field(default=None, description="When its first attempt started.")
    finished_at: datetime | None = Field(default=None, description="When it finished.")
    duration_seconds: float | None = Field(default=None, description="Run time, start to finish.")
    attempt_count: int = Field(description="Attempts made.")
    result: Any = Field(default=None, description="Its result, when it succeeded.")
    deleted: bool = Field(description="The Task CR is gone (history limit, TTL); its history stays.")


class ScheduleRunsPublic(ApiModel):
    """A page of a schedule's runs, newest instant first, and figures over all of them."""

    items: list[ScheduleRunPublic]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
    total: int = Field(description="Runs in history.")
    by_phase: dict[str, int] = Field(description="Runs per phase.")
    success_rate: float | None = Field(description="Succeeded / (Succeeded + Failed + DeadLettered); null: none.")


def _public(row: TaskRow) -> ScheduleRunPublic:
    assert row.scheduled_time is not None  # only rows with an instant are listed
    return ScheduleRunPublic(
        name=row.name,
        scheduled_time=row.scheduled_time,
        phase=row.phase,
        reason=row.reason,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=row.duration_seconds,
        attempt_count=row.attempt_count,
        result=row.result,
        deleted=row.deleted_at is not None,
    )


@router.get(
    "/namespaces/{ns}/schedules/{name}/runs",
    response_model=ScheduleRunsPublic,
    responses=errors(*READ_ONE),
)
def list_schedule_runs(
    ns: Namespace,
    name: Name,
    sessions: SessionsDep,
    settings: SettingsDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ScheduleRunsPublic:
    """The schedule's runs from history, newest first, with their results and success rate."""
    check_page_size(limit, settings)
    with sessions() as s:
        try:
            page = schedule_runs.list_schedule_runs(s, namespace=ns, schedule=name, limit=limit, cursor=cursor)
        except CursorError as e:
            raise invalid(str(e), [FieldProblem("query:cursor", str(e))]) from e
        figures = schedule_runs.run_figures(s, namespace=ns, schedule=name)
        if figures.total == 0 and schedule_runs.find_schedule(s, ns, name) is None:
            raise not_found(f"schedule {ns}/{name} has no history")
        return ScheduleRunsPublic(
            items=[_public(r) for r in page.items],
            next_cursor=page.next_cursor,
            total=figures.total,
            by_phase=figures.by_phase,
            success_rate=figures.success_rate,
        )
