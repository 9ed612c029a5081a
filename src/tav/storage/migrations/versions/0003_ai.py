"""AI: response cache, vector collections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "vector_collections",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "vector_documents",
        sa.Column("rowid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("collection", sa.String(length=200), nullable=False),
        sa.Column("doc_id", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["collection"], ["vector_collections.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rowid"),
        sa.UniqueConstraint("collection", "doc_id"),
    )


def downgrade() -> None:
    op.drop_table("vector_documents")
    op.drop_table("vector_collections")
    op.drop_table("ai_cache")
