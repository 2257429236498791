"""What the SQL mirror holds for a Task: a snapshot derived from the CR alone (pure).

The operator is the only writer of the mirror and writes whole snapshots, keyed by the Task's uid.
Events are derived from the status too (attempt created/started/ended, final phase), each with a
stable key, so replaying a snapshot is idempotent and a mirror that missed writes (database down,
operator restarted) is repaired completely by writing the current snapshot again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetask import conditions as c
from kubetask.models import FINAL_PHASES, Phase, Task
from kubetask.scheduling import owner_schedule, run_instant
from kubetask.timeutil import parse_time


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    job_name: str
    pod_name: str | None
    phase: str
    exit_code: int | None
    reason: str | None
    message: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None


@dataclass(frozen=True)
class EventRecord:
    key: str  # stable per transition: replays do not duplicate
    timestamp: datetime
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class TaskRecord:
    uid: str
    namespace: str
    name: str
    template: str | None
    phase: str
    reason: str | None
    message: str | None
    params: Any
    result: Any
    labels: dict[str, str]
    idempotency_key: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempt_count: int
    duration_seconds: float | None
    resource_version: int
    spec: Any = None
    redrive_of_uid: str | None = None
    schedule: str | None = None  # a run Task's TaskSchedule (its controller ownerReference): name, uid
    schedule_uid: str | None = None
    scheduled_time: datetime | None = None  # the nominal instant it runs for
    attempts: tuple[AttemptRecord, ...] = field(default_factory=tuple)
    events: tuple[EventRecord, ...] = field(default_factory=tuple)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _events(task: Task, created: datetime) -> list[EventRecord]:
    st = task.status
    out = [EventRecord("created", created, c.EVENT_NORMAL, c.REASON_TASK_CREATED, "Task created")]
    if st is None:
        return out
    ended = {a.number: a.finish_time for a in st.attempts}
    run_at = task.spec.run_at
    first = max(created, run_at) if run_at else created  # a delayed Task's first Job comes at runAt, not before
    for a in st.attempts:
        out.append(
            EventRecord(
                f"attempt-{a.number}-job",
                # The status never states when a Job was created. An event row is written once (the first
                # snapshot that holds its key), so its time must be one every later snapshot agrees on:
                # attempt n's Job is created only after attempt n-1 ended (attempt 1's after the Task was,
                # and not before its runAt). The container's start time would move the event when the
                # mirror missed the early snapshots.
                ended.get(a.number - 1) or first,
                c.EVENT_NORMAL,
                c.REASON_JOB_CREATED,
                f"Job {a.job_name} created for attempt {a.number}",
            )
        )
        if a.start_time:
            out.append(
                EventRecord(
                    f"attempt-{a.number}-started",
                    a.start_time,
                    c.EVENT_NORMAL,
                    c.REASON_STARTED,
                    f"attempt {a.number} running in pod {a.pod_name}",
                )
            )
        if a.finish_time and a.phase in (Phase.SUCCEEDED, Phase.FAILED):
            kind = c.EVENT_NORMAL if a.phase == Phase.SUCCEEDED else c.EVENT_WARNING
            out.append(
                EventRecord(
                    f"attempt-{a.number}-ended",
                    a.finish_time,
                    kind,
                    a.reason or a.phase.value,
                    a.message or f"attempt {a.number} {a.phase.value.lower()}",
                )
            )
    for cond in st.conditions:
        if cond.type == c.ACCEPTED and cond.status == "False" and cond.last_transition_time:
            at = cond.last_transition_time
            out.append(EventRecord(f"rejected-{cond.reason}", at, c.EVENT_WARNING, cond.reason, cond.message))
    if st.completion_time and st.phase in FINAL_PHASES:
        kind = c.EVENT_NORMAL if st.phase == Phase.SUCCEEDED else c.EVENT_WARNING
        out.append(EventRecord("final", st.completion_time, kind, st.phase.value, st.message or st.phase.value))
    return out


def _schedule_link(raw: dict[str, Any]) -> tuple[str | None, str | None, datetime | None]:
    """(name, uid, nominal instant) of the TaskSchedule a run Task belongs to; Nones for other Tasks."""
    name = owner_schedule(raw)
    if name is None:
        return None, None, None
    refs = raw["metadata"].get("ownerReferences") or []
    uid = next((r.get("uid") for r in refs if r.get("kind") == "TaskSchedule" and r.get("name") == name), None)
    return name, str(uid) if uid else None, run_instant(raw)


def snapshot(raw: dict[str, Any]) -> TaskRecord:
    """The mirror's record of a Task CR (as returned by the apiserver)."""
    task = Task.model_validate(raw)
    meta = raw["metadata"]
    created = parse_time(meta.get("creationTimestamp")) or datetime.fromtimestamp(0).astimezone()
    st = task.status
    attempts = tuple(
        AttemptRecord(
            number=a.number,
            job_name=a.job_name,
            pod_name=a.pod_name,
            phase=a.phase.value,
            exit_code=a.exit_code,
            reason=a.reason,
            message=a.message,
            started_at=a.start_time,
            finished_at=a.finish_time,
            duration_seconds=_seconds(a.start_time, a.finish_time),
        )
        for a in (st.attempts if st else [])
    )
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    schedule, schedule_uid, scheduled_time = _schedule_link(raw)
    return TaskRecord(
        uid=meta["uid"],
        namespace=meta["namespace"],
        name=meta["name"],
        template=task.spec.template_ref.name if task.spec.template_ref else None,
        phase=(st.phase if st else Phase.PENDING).value,
        reason=st.reason if st else None,
        message=st.message if st else None,
        params=task.spec.params,
        result=st.result if st else None,
        labels=labels,
        idempotency_key=task.spec.idempotency_key,
        created_at=created,
        started_at=st.start_time if st else None,
        finished_at=st.completion_time if st else None,
        attempt_count=st.attempt_count if st else 0,
        duration_seconds=_seconds(st.start_time, st.completion_time) if st else None,
        resource_version=int(meta.get("resourceVersion") or 0),
        spec=raw.get("spec"),
        redrive_of_uid=task.spec.redrive_of.uid if task.spec.redrive_of else None,
        schedule=schedule,
        schedule_uid=schedule_uid,
        scheduled_time=scheduled_time,
        attempts=attempts,
        events=tuple(_events(task, created)),
    )


def idempotency_label(key: str) -> str:
    """A label-safe digest of an idempotency key (label values are capped at 63 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()[:40]
