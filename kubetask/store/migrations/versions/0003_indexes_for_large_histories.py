"""indexes for large histories (bench figure 5, history queries on PostgreSQL)

- template + phase + created: "failed runs of this template, newest first" without sorting;
- duration as sorted (unknown durations last): sort by duration reads the index in order;
- PostgreSQL only, when the pg_trgm extension can be created: a trigram index for name search
  (`lower(name) LIKE '%...%'`); without it that search scans the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
log = logging.getLogger("kubetask.store")


def upgrade() -> None:
    op.create_index("ix_tasks_template_phase_created", "tasks", ["template", "phase", "created_at", "id"])
    op.create_index("ix_tasks_duration", "tasks", [sa.text("coalesce(duration_seconds, 1e18)"), "id"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        bind.execute(sa.text("CREATE INDEX ix_tasks_name_trgm ON tasks USING gin (lower(name) gin_trgm_ops)"))
        savepoint.commit()
    except sa.exc.DBAPIError as e:  # e.g. not allowed to create extensions: search still works, by scanning
        savepoint.rollback()
        log.warning("no trigram index for task name search (pg_trgm unavailable): %s", str(e).split("\n")[0])


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_tasks_name_trgm")
    op.drop_index("ix_tasks_duration", table_name="tasks")
    op.drop_index("ix_tasks_template_phase_created", table_name="tasks")
