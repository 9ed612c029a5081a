"""collab: the live drafts of workflows being edited together

- ``collab_drafts``: per workflow, a snapshot of its draft's Yjs document and the saved
  version the draft last took in.
- ``collab_updates``: the updates of each draft written since its snapshot (a few per
  second while people type), folded into the snapshot from time to time.

Both go with their workflow.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collab_drafts",
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    op.create_table(
        "collab_updates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_collab_updates_workflow", "collab_updates", ["workflow_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_collab_updates_workflow", table_name="collab_updates")
    op.drop_table("collab_updates")
    op.drop_table("collab_drafts")
