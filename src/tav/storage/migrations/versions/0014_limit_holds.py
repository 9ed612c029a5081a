"""limit_holds: places taken in the limits queue mode's processes share

One row per place taken in a pool, a credential's concurrency, its requests-per-minute
window, or a Retry-After hold-off, gone at ``expires_at`` (``tav.storage.limits``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_holds",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    op.create_index("ix_limit_holds_key", "limit_holds", ["key", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_limit_holds_key", table_name="limit_holds")
    op.drop_table("limit_holds")
