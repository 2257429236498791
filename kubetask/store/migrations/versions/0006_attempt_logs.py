"""attempt_logs: each ended attempt's container log, capped to a head and a tail

Written by the operator once per (task uid, attempt) after reading the pod's log; existing
databases get the empty table (attempts that ended before have no kept log).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_uid", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("task_name", sa.String(length=253), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("head", sa.Text(), nullable=False),
        sa.Column("tail", sa.Text(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("cut", sa.Boolean(), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_uid", "attempt", name="uq_attempt_logs_task_attempt"),
    )
    with op.batch_alter_table("attempt_logs", schema=None) as batch_op:
        batch_op.create_index("ix_attempt_logs_ns_name", ["namespace", "task_name", "attempt"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attempt_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_attempt_logs_ns_name")
    op.drop_table("attempt_logs")
