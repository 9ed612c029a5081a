"""Alembic environment: migrations run on the connection the application hands over."""

from __future__ import annotations

from alembic import context

from tav.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `tav db` paths hand one over
    raise RuntimeError("run migrations through tav.storage.db.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
