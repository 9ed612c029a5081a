"""waits.state: what a node that runs again after its wait parked with

A node may park with state (``ctx.park(request, state=...)``: ``ai.agent`` keeps its
conversation while a tool call waits for approval) and run again with it once its wait is
decided. The state is a column of its own, read only when the execution resumes: lists of
waits (the Inbox, every few seconds) read what the wait asks, not up to a MiB per wait.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("waits") as batch:
        batch.add_column(sa.Column("state", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("waits") as batch:
        batch.drop_column("state")
