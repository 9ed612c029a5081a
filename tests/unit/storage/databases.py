"""A migrated database for a storage test module, on the URL ``database_url`` gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from tav.storage.db import Database


@asynccontextmanager
async def migrated(url: str, *, empty: str) -> AsyncIterator[Database]:
    """The database at ``url``, migrated; on PostgreSQL, which the test session shares,
    ``TRUNCATE <empty>`` first (on SQLite each test has a new file)."""
    database = Database(url)
    await database.migrate()
    if not database.is_sqlite:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {empty}"))
    try:
        yield database
    finally:
        await database.close()
