"""workflows: the count of successful executions not stored

A workflow may keep only a count of its successful executions (``keep_successes:
count``): the writer adds them to ``successes_not_kept`` and sets when the last ended.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflows") as batch_op:
        batch_op.add_column(
            sa.Column("successes_not_kept", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("last_success_not_kept_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("workflows") as batch_op:
        batch_op.drop_column("last_success_not_kept_at")
        batch_op.drop_column("successes_not_kept")
