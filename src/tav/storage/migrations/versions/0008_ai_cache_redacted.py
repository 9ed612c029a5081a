"""ai_cache: forget answers stored before the cache redacted secrets

Answers were stored as the provider gave them, secrets included; from now on they are
stored redacted. The cache is only a cache, so every older answer is deleted rather than
trusted. On SQLite the deletion runs with ``secure_delete``, so the freed pages are
overwritten with zeros instead of keeping the old answers in the file.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA secure_delete = ON")
    op.execute("DELETE FROM ai_cache")
    if sqlite:
        op.execute("PRAGMA secure_delete = OFF")


def downgrade() -> None:
    """Nothing to undo: an empty cache fills again."""
