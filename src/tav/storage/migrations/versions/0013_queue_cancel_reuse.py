"""queue: cancelling what a worker runs, and retries and runs from a node through workers

- ``executions.cancel_requested_at``: when someone asked to cancel it (queue mode); the
  worker running it stops it (told at once by ``NOTIFY``, else at its next lease renewal),
  and a worker that claims it later cancels it as soon as it starts.
- ``execution_data.reuse``: the earlier execution's node results that a retry or a run from
  a node takes over (queue mode: the worker that runs it reads them here).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as table:
        table.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("execution_data") as table:
        table.add_column(sa.Column("reuse", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("execution_data") as table:
        table.drop_column("reuse")
    with op.batch_alter_table("executions") as table:
        table.drop_column("cancel_requested_at")
