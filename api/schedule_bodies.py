"""Request and response bodies of the TaskSchedule routes (camelCase on the wire).

A schedule's `spec` and `status` travel as the CRD has them (what `kubectl get -o json` shows), so
a manifest's spec is a request's spec; the Ready condition is lifted out for readers that only
want to know whether runs are being created.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from kubetask.models import TaskScheduleSpec

from .bodies import _LABELS, ApiModel
from .validation import DNS_SUBDOMAIN, MAX_NAME

_REASON = TaskScheduleSpec.model_fields["suspend_reason"]
_REASON_MAX = next(m.max_length for m in _REASON.metadata if hasattr(m, "max_length"))


class ScheduleBody(ApiModel):
    """A TaskSchedule: its name, labels and spec (as in the CRD)."""

    name: str = Field(min_length=1, max_length=MAX_NAME, json_schema_extra={"pattern": DNS_SUBDOMAIN})
    labels: dict[str, str] = Field(
        default_factory=dict, json_schema_extra=_LABELS, description="Labels of the TaskSchedule."
    )
    spec: dict[str, Any] = Field(
        description="The TaskSchedule's spec as in its CRD (crds/kubetask.io_taskschedules.yaml): checked against it,"
        " the cron parser and the template's paramSchema on write; every bad field is reported at once."
    )


class SuspendRequest(ApiModel):
    """Why the schedule is suspended (optional)."""

    reason: str | None = Field(default=None, max_length=_REASON_MAX, description=_REASON.description)


class ReadyPublic(ApiModel):
    """The schedule's Ready condition, as the operator last wrote it."""

    status: str = Field(description="True while runs are created on schedule.")
    reason: str | None = Field(default=None, description="Scheduling, Suspended, InvalidSpec or TemplateNotFound.")
    message: str | None = None


class SchedulePublic(ApiModel):
    namespace: str
    name: str
    uid: str
    labels: dict[str, str] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(description="The spec as stored.")
    status: dict[str, Any] = Field(
        default_factory=dict,
        description="The status the operator writes: lastScheduleTime, nextRunTimes, active, queued, counters of"
        " missed and skipped runs, conditions (empty until the operator has seen the schedule).",
    )
    suspended: bool = Field(description="spec.suspend.")
    ready: ReadyPublic | None = Field(default=None, description="The Ready condition; null until it is written.")
    created_at: datetime | None = None
    resource_version: str | None = None


class SchedulesPublic(ApiModel):
    items: list[SchedulePublic]
