"""schedules, and each run task's schedule and nominal instant

A run Task's row names its TaskSchedule (name and uid) and the instant it ran for, so a schedule's
history and "did this instant already run" outlive the Task CRs the history limits delete.
The schedules table keeps each TaskSchedule's spec essentials and status counters.

Existing rows of run Tasks get what their stored columns tell: the schedule's name from the
`kubetask.io/schedule` label, the instant from the name's `-YYYYMMDDhhmmss` suffix (the run
naming rule). The uid is in no stored column: rows of live Tasks get their resource_version set
to 0, so the operator's next start-up resync writes them again, whole; rows of deleted Tasks keep
no uid (the name and the instant still link them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_LABEL = "kubetask.io/schedule"  # kubetask.labels.LABEL_SCHEDULE when this revision was written
_STAMP = "%Y%m%d%H%M%S"  # kubetask.schedules.naming.STAMP, likewise


def _instant(name: str) -> datetime | None:
    try:
        return datetime.strptime(name.rsplit("-", 1)[-1], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("schedule_uid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("scheduled_time", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tasks_schedule_uid_time", ["schedule_uid", "scheduled_time"], unique=False)
        batch_op.create_index(
            "ix_tasks_ns_schedule_time", ["namespace", "schedule", "scheduled_time", "id"], unique=False
        )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("schedule", sa.String(length=256), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("template", sa.String(length=253), nullable=True),
        sa.Column("concurrency_policy", sa.String(length=16), nullable=True),
        sa.Column("suspend", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready", sa.String(length=8), nullable=True),
        sa.Column("ready_reason", sa.String(length=64), nullable=True),
        sa.Column("last_schedule_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_successful_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active_count", sa.Integer(), nullable=False),
        sa.Column("missed_runs", sa.Integer(), nullable=False),
        sa.Column("skipped_runs", sa.Integer(), nullable=False),
        sa.Column("resource_version", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index("ix_schedules_ns_name", ["namespace", "name"], unique=False)
    _link_existing_runs()


def _link_existing_runs() -> None:
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("labels", sa.JSON()),
        sa.column("deleted_at", sa.DateTime(timezone=True)),
        sa.column("resource_version", sa.BigInteger()),
        sa.column("schedule", sa.String()),
        sa.column("scheduled_time", sa.DateTime(timezone=True)),
    )
    label = tasks.c.labels[_LABEL].as_string()
    conn = op.get_bind()
    runs = conn.execute(sa.select(tasks.c.id, tasks.c.name, label, tasks.c.deleted_at).where(label.is_not(None)))
    for row_id, name, schedule, deleted in list(runs):
        values: dict[str, object] = {"schedule": schedule, "scheduled_time": _instant(name)}
        if deleted is None:  # a live Task: rewritten whole (with its schedule's uid) on the operator's next start
            values["resource_version"] = 0
        conn.execute(tasks.update().where(tasks.c.id == row_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_ns_name")
    op.drop_table("schedules")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_ns_schedule_time")
        batch_op.drop_index("ix_tasks_schedule_uid_time")
        batch_op.drop_column("scheduled_time")
        batch_op.drop_column("schedule_uid")
        batch_op.drop_column("schedule")
