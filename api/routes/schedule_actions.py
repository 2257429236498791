"""Routes: a schedule's manual runs — trigger now, backfill a range — and a preview of its next instants.

Subresource-like actions on `/namespaces/{ns}/schedules/{name}`; the decisions are
`kubetask.schedules.manual`'s, the I/O `ScheduleActions`' (see its docstring for each refusal).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from kubetask.schedules import DEFAULT_TIME_ZONE, run_task_name
from kubetask.schedules import manual as m

from ..auth import AccessDep
from ..bodies import ApiModel, TaskPublic
from ..deps import CustomResourcesDep, Name, Namespace, SessionsDep, TasksDep
from ..openapi import READ_ONE, WRITE_BODY, errors
from ..schedule_actions_service import ScheduleActions
from ..validation import valid_date_time

router = APIRouter(tags=["schedules"])


def _actions(crs: CustomResourcesDep, sessions: SessionsDep, tasks: TasksDep) -> ScheduleActions:
    return ScheduleActions(crs, sessions, tasks)


ActionsDep = Annotated[ScheduleActions, Depends(_actions)]


def _string(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("date_time", "give a date-time string with a timezone, e.g. 2026-01-02T03:04:05Z")
    return valid_date_time(value)


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 lies before the first instant a datetime holds in UTC
        raise PydanticCustomError("date_time", "is out of range in UTC (years 1 to 9999)") from None


Instant = Annotated[datetime, BeforeValidator(_string), AfterValidator(_in_utc)]


class BackfillRequest(ApiModel):
    """A range of nominal instants to run now."""

    from_: Instant = Field(alias="from", description="The first instant of the range (included), with an offset.")
    to: Instant = Field(description="The last instant of the range (included); not in the future.")
    concurrency: Literal["Allow", "Forbid"] | None = Field(
        default=None,
        description="Allow: create every missing run; Forbid: only the oldest, and only while no run is active"
        " (call again to continue). Default: Allow if the schedule's concurrencyPolicy is Allow, else Forbid.",
    )


class BackfillRun(ApiModel):
    name: str = Field(description="The run Task's name: the nominal one, as the schedule names its runs.")
    scheduled_time: datetime = Field(description="The nominal instant.")


class BackfillPublic(ApiModel):
    """Each instant of the range, in exactly one list, oldest first."""

    concurrency: Literal["Allow", "Forbid"] = Field(description="The concurrency the backfill used.")
    created: list[BackfillRun] = Field(description="Run Tasks created now.")
    skipped_existing: list[BackfillRun] = Field(description="Its run Task exists already.")
    skipped_history: list[BackfillRun] = Field(description="Its run Task is gone, but history shows it ran.")
    not_started: list[BackfillRun] = Field(description="Missing, held back by concurrency Forbid: call again.")


class PreviewItem(ApiModel):
    time: datetime = Field(description="The nominal instant, in UTC.")
    local_time: datetime = Field(description="The same instant in the schedule's time zone.")
    start_time: datetime = Field(description="When its run starts: the instant delayed by its jitter, in UTC.")


class PreviewPublic(ApiModel):
    """The schedule's next instants from now."""

    time_zone: str = Field(description="The schedule's time zone.")
    suspended: bool = Field(description="The schedule is suspended: none of these runs until it is resumed.")
    items: list[PreviewItem]


_PATH = "/namespaces/{ns}/schedules/{name}"
_CREATED = {"description": "Created.", "headers": {"Location": {"description": "The run's URL.", "schema": {}}}}
_BACKFILLED: dict[int | str, dict[str, Any]] = {
    201: {"description": "At least one run Task was created."},
    200: {"model": BackfillPublic, "description": "Nothing to create: every instant ran, exists or waits."},
}


@router.post(
    f"{_PATH}/trigger", status_code=201, response_model=TaskPublic, responses={201: _CREATED, **errors(*READ_ONE, 409)}
)
def trigger_schedule(
    ns: Namespace, name: Name, actions: ActionsDep, access: AccessDep, response: Response
) -> TaskPublic:
    """Run the schedule now (a suspended one too), as its concurrencyPolicy allows: Forbid and Queue refuse (409)."""
    task = actions.trigger(ns, name, now=datetime.now(UTC), submitted_by=access.username)
    response.headers["Location"] = f"/api/v1/namespaces/{ns}/tasks/{task.name}"
    return task


@router.post(
    f"{_PATH}/backfill",
    status_code=201,
    response_model=BackfillPublic,
    responses={**_BACKFILLED, **errors(*READ_ONE, *WRITE_BODY, 409)},
)
def backfill_schedule(
    ns: Namespace, name: Name, body: BackfillRequest, actions: ActionsDep, access: AccessDep, response: Response
) -> BackfillPublic:
    """Run the schedule's nominal instants from..to that have not run (at most 100; idempotent)."""
    out = actions.backfill(
        ns,
        name,
        start=body.from_,
        end=body.to,
        concurrency=body.concurrency,
        now=datetime.now(UTC),
        submitted_by=access.username,
    )
    if not out.created:
        response.status_code = 200

    def runs(instants: tuple[datetime, ...]) -> list[BackfillRun]:
        return [BackfillRun(name=run_task_name(name, i), scheduled_time=i) for i in instants]

    return BackfillPublic(
        concurrency=out.concurrency,
        created=runs(out.created),
        skipped_existing=runs(out.skipped_existing),
        skipped_history=runs(out.skipped_history),
        not_started=runs(out.not_started),
    )


Count = Annotated[int, Query(ge=1, le=m.MAX_PREVIEW, description="How many instants.")]


@router.get(f"{_PATH}/preview", response_model=PreviewPublic, responses=errors(*READ_ONE))
def preview_schedule(ns: Namespace, name: Name, actions: ActionsDep, count: Count = m.DEFAULT_PREVIEW) -> PreviewPublic:
    """The schedule's next instants from now, in UTC and in its zone, with their jitter-delayed starts."""
    schedule, items = actions.preview(ns, name, count=count, now=datetime.now(UTC))
    return PreviewPublic(
        time_zone=schedule.spec.time_zone or DEFAULT_TIME_ZONE,
        suspended=schedule.spec.suspend,
        items=[PreviewItem(time=i.time, local_time=i.local_time, start_time=i.start_time) for i in items],
    )
