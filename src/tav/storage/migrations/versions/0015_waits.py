"""waits: executions parked on a person, a timer or a resume call

One row per wait node an execution reached (``tav.storage.waits``): what it waits for,
the SHA-256 of its resume link's token (never the token), when it is due (a timer, or an
approval's timeout; indexed, so one loop finds the next due wait however many there
are), the decisions taken so far and, once decided, the outcome the node settles with.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waits",
        sa.Column("execution_id", sa.String(length=32), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("execution_id", "node_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_waits_due", "waits", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_waits_due", table_name="waits")
    op.drop_table("waits")
