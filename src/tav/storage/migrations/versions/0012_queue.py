"""queue: executions published to a broker, leased by the worker that runs them

On ``executions``:

- ``published_at``: when its task was published to the broker (queue mode); empty for one
  committed but not published yet, which the sweeper publishes.
- ``worker``: the worker that ran it last (queue mode).
- ``skip``: the trigger nodes a worker settles as skipped (the triggers other than the
  one that started it).
- ``lease_token`` and ``lease_expires_at``: the claim of the worker running it now, renewed
  while it runs; a write under another token is refused (fencing).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as table:
        table.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        table.add_column(sa.Column("skip", sa.JSON(), nullable=True))
        table.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))
        table.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as table:
        table.drop_column("lease_expires_at")
        table.drop_column("lease_token")
        table.drop_column("skip")
        table.drop_column("worker")
        table.drop_column("published_at")
