"""What the SQL mirror holds for a TaskSchedule: a snapshot derived from its body alone (pure).

The spec's essentials are read from the raw body, not the validated model: a schedule whose spec
fails validation still has a status (Ready False, InvalidSpec) worth mirroring, and its runs'
history still belongs to it. The status counters are the controller's own; an unreadable status
counts as empty, as the controller treats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from kubetask.models import TaskScheduleStatus
from kubetask.scheduling import READY
from kubetask.timeutil import parse_time


@dataclass(frozen=True)
class ScheduleRecord:
    uid: str
    namespace: str
    name: str
    schedule: str | None
    time_zone: str | None
    template: str | None
    concurrency_policy: str | None
    suspend: bool
    spec: Any
    created_at: datetime
    resource_version: int
    ready: str | None = None  # the Ready condition's status and reason
    ready_reason: str | None = None
    last_schedule_time: datetime | None = None
    last_successful_time: datetime | None = None
    next_run_time: datetime | None = None
    active_count: int = 0
    missed_runs: int = 0
    skipped_runs: int = 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _object(parent: Any, key: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def schedule_snapshot(raw: dict[str, Any]) -> ScheduleRecord:
    """The mirror's record of a TaskSchedule CR (as returned by the apiserver)."""
    meta = raw["metadata"]
    spec = _object(raw, "spec")
    ref = _object(_object(spec, "task"), "templateRef")
    try:
        status = TaskScheduleStatus.model_validate(raw.get("status") or {})
    except ValidationError:
        status = TaskScheduleStatus()
    ready = next((cond for cond in status.conditions if cond.type == READY), None)
    return ScheduleRecord(
        uid=meta["uid"],
        namespace=meta["namespace"],
        name=meta["name"],
        schedule=_text(spec.get("schedule")),
        time_zone=_text(spec.get("timeZone")),
        template=_text(ref.get("name")),
        concurrency_policy=_text(spec.get("concurrencyPolicy")),
        suspend=spec.get("suspend") is True,
        spec=raw.get("spec"),
        created_at=parse_time(meta.get("creationTimestamp")) or datetime.fromtimestamp(0, UTC),
        resource_version=int(meta.get("resourceVersion") or 0),
        ready=ready.status if ready else None,
        ready_reason=(ready.reason or None) if ready else None,
        last_schedule_time=status.last_schedule_time,
        last_successful_time=status.last_successful_time,
        next_run_time=min(status.next_run_times, default=None),
        active_count=status.active_count,
        missed_runs=status.missed_runs,
        skipped_runs=status.skipped_runs,
    )
