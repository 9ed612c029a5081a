"""Migration 0011 (live drafts) on SQLite and PostgreSQL: it adds the draft tables to a
database of the previous schema, and its downgrade takes them away again."""

from __future__ import annotations

from sqlalchemy import inspect

from tav.storage.db import Database
from tests.unit.storage.test_team_migration import _to, empty_database  # noqa: F401

TABLES = {"collab_drafts", "collab_updates"}


async def test_the_draft_tables_come_and_go_with_the_migration(empty_database: str) -> None:  # noqa: F811
    db = Database(empty_database)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_to("0010"))
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            assert not tables & TABLES
            await connection.run_sync(_to("0011"))
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            assert tables >= TABLES
            indexes = await connection.run_sync(
                lambda sync: inspect(sync).get_indexes("collab_updates")
            )
            assert [i["column_names"] for i in indexes] == [["workflow_id", "id"]]
            await connection.run_sync(_to("0010", down=True))
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            assert not tables & TABLES
            await connection.run_sync(_to("0011"))  # and up again
    finally:
        await db.close()
