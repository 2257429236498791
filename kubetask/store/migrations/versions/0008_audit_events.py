"""audit_events: the API's audit trail of mutating and refused requests

Written by the API (a row before a mutating request acts, its status after; a row per refusal);
existing databases get the empty table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=253), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("verb", sa.String(length=16), nullable=False),
        sa.Column("resource", sa.String(length=63), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=True),
        sa.Column("name", sa.String(length=253), nullable=True),
        sa.Column("operation", sa.String(length=160), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_time", ["time", "id"], unique=False)
        batch_op.create_index("ix_audit_events_ns_time", ["namespace", "time", "id"], unique=False)
        batch_op.create_index("ix_audit_events_user_time", ["user", "time", "id"], unique=False)
        batch_op.create_index("ix_audit_events_request", ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for index in ("ix_audit_events_request", "ix_audit_events_user_time", "ix_audit_events_ns_time"):
            batch_op.drop_index(index)
        batch_op.drop_index("ix_audit_events_time")
    op.drop_table("audit_events")
