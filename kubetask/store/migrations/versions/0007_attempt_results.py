"""attempt_results: the verdict on each attempt's large result, and the result itself when accepted

Written by the operator once per (task uid, attempt) after reading the result's frames from the
pod's log; existing databases get the empty table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_uid", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("task_name", sa.String(length=253), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_uid", "attempt", name="uq_attempt_results_task_attempt"),
    )
    with op.batch_alter_table("attempt_results", schema=None) as batch_op:
        batch_op.create_index("ix_attempt_results_ns_name", ["namespace", "task_name", "attempt"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attempt_results", schema=None) as batch_op:
        batch_op.drop_index("ix_attempt_results_ns_name")
    op.drop_table("attempt_results")
