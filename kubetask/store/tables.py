"""SQLAlchemy tables of the SQL mirror: tasks, their labels, attempts and events; schedules.

Indexes follow the queries: listing sorts by created_at (per namespace or overall) with keyset
pagination on (created_at, id); filters hit phase, template and finished_at; labels live in their
own table so label selectors are portable EXISTS subqueries on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:  # noqa: ARG002
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


class Base(DeclarativeBase):
    pass


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    template: Mapped[str | None] = mapped_column(String(253))
    phase: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    params: Mapped[Any] = mapped_column(JSON, nullable=True)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    resource_version: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    spec: Mapped[Any] = mapped_column(JSON, nullable=True)  # for redrive after the CR expired
    redrive_of_uid: Mapped[str | None] = mapped_column(String(64))  # spec.redriveOf.uid: the dead letter re-run
    # a run Task's TaskSchedule and nominal instant: kept when the Task CR is gone, so they answer
    # "did this instant run" and a schedule's history after its runs expire
    schedule: Mapped[str | None] = mapped_column(String(253))
    schedule_uid: Mapped[str | None] = mapped_column(String(64))
    scheduled_time: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_tasks_created", "created_at", "id"),
        Index("ix_tasks_ns_created", "namespace", "created_at", "id"),
        Index("ix_tasks_ns_name", "namespace", "name"),
        Index("ix_tasks_phase_created", "phase", "created_at"),
        Index("ix_tasks_template_created", "template", "created_at"),
        Index("ix_tasks_finished", "finished_at"),
        Index("ix_tasks_idempotency", "namespace", "idempotency_key"),
        Index("ix_tasks_template_phase_created", "template", "phase", "created_at", "id"),
        Index("ix_tasks_duration", text("coalesce(duration_seconds, 1e18)"), "id"),
        Index("ix_tasks_redrive_of", "redrive_of_uid"),
        Index("ix_tasks_schedule_uid_time", "schedule_uid", "scheduled_time"),
        Index("ix_tasks_ns_schedule_time", "namespace", "schedule", "scheduled_time", "id"),
        # PostgreSQL also gets ix_tasks_name_trgm (pg_trgm, migration 0003) when the extension can be created
    )


class LabelRow(Base):
    __tablename__ = "task_labels"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(317), primary_key=True)
    value: Mapped[str] = mapped_column(String(63))

    __table_args__ = (Index("ix_task_labels_kv", "key", "value"),)


class AttemptRow(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    job_name: Mapped[str] = mapped_column(String(63))
    pod_name: Mapped[str | None] = mapped_column(String(253))
    phase: Mapped[str] = mapped_column(String(20))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("task_id", "number", name="uq_attempts_task_number"),)


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("task_id", "key", name="uq_events_task_key"),
        Index("ix_events_task_time", "task_id", "timestamp"),
    )


class DeadLetterRow(Base):
    """A task that exhausted its attempts; redrive links it to the task that re-ran it."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), unique=True)
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    template: Mapped[str | None] = mapped_column(String(253))
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer)
    dead_lettered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redrive_count: Mapped[int] = mapped_column(Integer, default=0)
    last_redrive: Mapped[str | None] = mapped_column(String(253))  # name of the newest redriven task
    last_redrive_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_dead_letters_ns_time", "namespace", "dead_lettered_at", "id"),
        Index("ix_dead_letters_time", "dead_lettered_at", "id"),
    )


class ScheduleRow(Base):
    """A TaskSchedule as the operator last wrote it: the spec's essentials and its status counters.

    Kept after the TaskSchedule is deleted (`deleted_at`), as its runs are: a schedule's history
    reads its runs from `tasks` by (namespace, schedule name)."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    schedule: Mapped[str | None] = mapped_column(String(256))  # spec.schedule (cron)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    template: Mapped[str | None] = mapped_column(String(253))
    concurrency_policy: Mapped[str | None] = mapped_column(String(16))
    suspend: Mapped[bool] = mapped_column(Boolean, default=False)
    spec: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ready: Mapped[str | None] = mapped_column(String(8))  # the Ready condition's status
    ready_reason: Mapped[str | None] = mapped_column(String(64))
    last_schedule_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_successful_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_run_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active_count: Mapped[int] = mapped_column(Integer, default=0)
    missed_runs: Mapped[int] = mapped_column(Integer, default=0)
    skipped_runs: Mapped[int] = mapped_column(Integer, default=0)
    resource_version: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_schedules_ns_name", "namespace", "name"),)


class AttemptLogRow(Base):
    """An attempt's container log as the operator read it once the attempt ended: capped to a head and a tail.

    Keyed by the Task's uid (not tasks.id: the operator writes it from the pod, maybe before the
    mirror wrote the Task's row) and the attempt number; written once, never updated."""

    __tablename__ = "attempt_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_uid: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(63))
    task_name: Mapped[str] = mapped_column(String(253))
    attempt: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(Text)  # the first bytes kept, UTF-8 with errors replaced
    tail: Mapped[str] = mapped_column(Text)  # the last bytes kept (empty when the head held it all)
    total_bytes: Mapped[int] = mapped_column(BigInteger)  # the whole log's size as read
    cut: Mapped[bool] = mapped_column(Boolean)  # bytes between head and tail were dropped
    kept_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("task_uid", "attempt", name="uq_attempt_logs_task_attempt"),
        Index("ix_attempt_logs_ns_name", "namespace", "task_name", "attempt"),
    )


class AttemptResultRow(Base):
    """The verdict on an attempt's large result (framed in its log), and the result when accepted.

    Written once by the operator's log keeper, with the attempt's kept log, before the pod goes;
    keyed like attempt_logs by the Task's uid and the attempt. `body` is the result's JSON text
    exactly as the pod sent it (its sha256 is `sha256`), only for an accepted result."""

    __tablename__ = "attempt_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_uid: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(63))
    task_name: Mapped[str] = mapped_column(String(253))
    attempt: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)  # bytes of the result's JSON text, as the report said
    sha256: Mapped[str] = mapped_column(String(64))
    preview: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(64))  # None: accepted; else why it was refused
    message: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    kept_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("task_uid", "attempt", name="uq_attempt_results_task_attempt"),
        Index("ix_attempt_results_ns_name", "namespace", "task_name", "attempt"),
    )


class AuditRow(Base):
    """One request the API audited: every mutating request (written before it acts, its status after)
    and every refused one. Written by the API only (its second write besides the dead-letter purge)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())  # when the API received the request
    user: Mapped[str | None] = mapped_column(String(253))  # None: no identity (no or a refused token)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    verb: Mapped[str] = mapped_column(String(16))  # of the operation's permission: create, patch, ...
    resource: Mapped[str] = mapped_column(String(63))  # tasks, tasktemplates, taskschedules, ...
    namespace: Mapped[str | None] = mapped_column(String(63))  # None: a cluster-wide operation
    name: Mapped[str | None] = mapped_column(String(253))
    operation: Mapped[str] = mapped_column(String(160))  # "POST /api/v1/namespaces/{ns}/tasks"
    decision: Mapped[str] = mapped_column(String(16))  # allowed, forbidden, unauthenticated, ...
    status: Mapped[int | None] = mapped_column(Integer)  # None: the API stopped before it answered
    request_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))  # the peer address as received

    __table_args__ = (
        Index("ix_audit_events_time", "time", "id"),
        Index("ix_audit_events_ns_time", "namespace", "time", "id"),
        Index("ix_audit_events_user_time", "user", "time", "id"),
        Index("ix_audit_events_request", "request_id"),
    )
