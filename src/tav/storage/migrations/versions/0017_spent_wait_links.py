"""spent_wait_links: the links of a node's waits that its next wait replaced

A node that runs again after its wait (``ctx.park(state=...)``) may wait again, under a
link of its own; its earlier wait's row is replaced. The earlier link's token (its
SHA-256) is kept here, so that the link answers 410 (its wait is over), as any used link
does, rather than 404.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_wait_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=32), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_spent_wait_links_execution_id", "spent_wait_links", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_spent_wait_links_execution_id", table_name="spent_wait_links")
    op.drop_table("spent_wait_links")
