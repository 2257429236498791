"""Routes: TaskSchedules — create, list (with filters), get, replace, delete, suspend and resume.

Each write is checked completely first (`ScheduleService`'s docstring lists the checks); nothing
is written on a 422. Manual runs (trigger, backfill, preview) are `schedule_actions`' routes, the
runs from history `schedule_runs`'.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from ..deps import CustomResourcesDep, Name, Namespace
from ..openapi import READ_MANY, READ_ONE, WRITE_BODY, errors
from ..schedule_bodies import ScheduleBody, SchedulePublic, SchedulesPublic, SuspendRequest
from ..schedule_service import ScheduleService

router = APIRouter(tags=["schedules"])


def _service(crs: CustomResourcesDep) -> ScheduleService:
    return ScheduleService(crs)


ServiceDep = Annotated[ScheduleService, Depends(_service)]
Selector = Annotated[str | None, Query(alias="labelSelector", description="Kubernetes label selector.")]
Suspended = Annotated[bool | None, Query(description="Only suspended (true) or only active (false) schedules.")]
_PATH = "/namespaces/{ns}/schedules"


@router.post(_PATH, status_code=201, response_model=SchedulePublic, responses=errors(*WRITE_BODY, 404, 409))
def create_schedule(ns: Namespace, body: ScheduleBody, schedules: ServiceDep, response: Response) -> SchedulePublic:
    """Create a TaskSchedule (checked first: cron, time zone, template and params; nothing is created on error)."""
    made = schedules.create(ns, body)
    response.headers["Location"] = f"/api/v1/namespaces/{ns}/schedules/{made.name}"
    return made


@router.get(_PATH, response_model=SchedulesPublic, responses=errors(*READ_MANY))
def list_schedules(
    ns: Namespace, schedules: ServiceDep, label_selector: Selector = None, suspended: Suspended = None
) -> SchedulesPublic:
    """The TaskSchedules of a namespace, by name, filtered by labels and by suspension."""
    return SchedulesPublic(items=schedules.list(ns, label_selector=label_selector, suspended=suspended))


@router.get(f"{_PATH}/{{name}}", response_model=SchedulePublic, responses=errors(*READ_ONE))
def get_schedule(ns: Namespace, name: Name, schedules: ServiceDep) -> SchedulePublic:
    """One TaskSchedule: its spec and status (next run times, last schedule time, active runs, counters, Ready)."""
    return schedules.get(ns, name)


@router.put(f"{_PATH}/{{name}}", response_model=SchedulePublic, responses=errors(*WRITE_BODY, 404, 409))
def replace_schedule(ns: Namespace, name: Name, body: ScheduleBody, schedules: ServiceDep) -> SchedulePublic:
    """Replace a TaskSchedule's labels and spec (checked as on create); its status is kept."""
    return schedules.replace(ns, name, body)


@router.delete(f"{_PATH}/{{name}}", status_code=204, responses=errors(*READ_ONE))
def delete_schedule(ns: Namespace, name: Name, schedules: ServiceDep) -> None:
    """Delete a TaskSchedule; its run Tasks go with it (owner references), their history stays."""
    schedules.delete(ns, name)


@router.post(f"{_PATH}/{{name}}/suspend", response_model=SchedulePublic, responses=errors(*READ_ONE, 400))
def suspend_schedule(
    ns: Namespace, name: Name, schedules: ServiceDep, body: SuspendRequest | None = None
) -> SchedulePublic:
    """Suspend the schedule (spec.suspend, with an optional reason): no runs start until it is resumed."""
    return schedules.suspend(ns, name, body.reason if body else None)


@router.post(f"{_PATH}/{{name}}/resume", response_model=SchedulePublic, responses=errors(*READ_ONE))
def resume_schedule(ns: Namespace, name: Name, schedules: ServiceDep) -> SchedulePublic:
    """Resume the schedule: runs start from its next instant; nothing from the pause runs."""
    return schedules.resume(ns, name)
