"""tasks.redrive_of_uid: which dead letter a task re-runs, so redrives are counted, not incremented

The dead letter's redrive_count and last_redrive are derived from the task rows that name it
(store/writer.py). Existing rows are filled from the stored spec (`spec.redriveOf.uid`) in one
statement, so dead letters redriven before this revision keep their counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redrive_of_uid", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tasks_redrive_of", ["redrive_of_uid"], unique=False)
    tasks = sa.table("tasks", sa.column("spec", sa.JSON()), sa.column("redrive_of_uid", sa.String()))
    uid = tasks.c.spec[("redriveOf", "uid")].as_string()
    op.execute(tasks.update().where(tasks.c.spec.is_not(None), uid.is_not(None)).values(redrive_of_uid=uid))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_redrive_of")
        batch_op.drop_column("redrive_of_uid")
