"""team members: disabled users, keys per user, invites, who saved and who started

- ``users.disabled_at``: a disabled user cannot sign in and has no sessions or keys.
- ``api_keys.user_id``: each key is a user's and acts with their role. The keys that exist
  were made by the owner (the one account there was), so they become the owner's; keys
  made before any account existed stay without one until the owner is created.
- ``invites``: one-time invitations to join with a role (only their token's hash).
- ``workflow_versions.created_by`` and ``executions.started_by``: the user who saved a
  version, and who started an execution (none for triggers, the CLI, sub-workflows).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_api_keys_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
    op.execute(
        "UPDATE api_keys SET user_id = "
        "(SELECT id FROM users WHERE role = 'owner' ORDER BY created_at LIMIT 1)"
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("invites") as batch_op:
        batch_op.create_index(batch_op.f("ix_invites_email"), ["email"], unique=False)
    with op.batch_alter_table("workflow_versions") as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.String(length=32), nullable=True))
    with op.batch_alter_table("executions") as batch_op:
        batch_op.add_column(sa.Column("started_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch_op:
        batch_op.drop_column("started_by")
    with op.batch_alter_table("workflow_versions") as batch_op:
        batch_op.drop_column("created_by")
    op.drop_table("invites")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_constraint("fk_api_keys_user_id_users", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
        batch_op.drop_column("user_id")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("disabled_at")
