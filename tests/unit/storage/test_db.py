"""The database layer on SQLite: migrations, inline connections, one writer at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import Connection

from tav.core.events import utcnow
from tav.storage.db import SCHEMA_HEAD, Database, _upgrade, alembic_config
from tav.storage.models import VariableRow


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'tav.db'}")
    await database.migrate()
    yield database
    await database.close()


def test_schema_head_is_the_newest_migration():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


async def test_migrate_creates_the_schema_once(db: Database):
    await db.migrate()  # again: nothing to do
    async with db.engine.connect() as connection:
        assert await connection.scalar(text("SELECT version_num FROM alembic_version")) == (
            SCHEMA_HEAD
        )
        assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert await connection.scalar(text("PRAGMA auto_vacuum")) == 2


async def test_a_failed_transaction_leaves_nothing(db: Database):
    async def fail() -> None:
        async with db.transaction() as session:
            session.add(VariableRow(name="x", value=1, updated_at=utcnow()))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail()
    async with db.session() as session:
        assert (await session.scalars(select(VariableRow))).all() == []


async def test_writers_of_one_process_take_turns(db: Database):
    order: list[str] = []

    async def write(name: str) -> None:
        async with db.transaction() as session:
            order.append(f"{name} in")
            session.add(VariableRow(name=name, value=name, updated_at=utcnow()))
            await session.flush()
            await asyncio.sleep(0.01)  # hold the transaction across a real await
            order.append(f"{name} out")

    await asyncio.gather(write("a"), write("b"), write("c"))
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]
    async with db.session() as session:
        assert len((await session.scalars(select(VariableRow))).all()) == 3


FOREIGN_KEY_PARTS = ("constrained_columns", "referred_table", "referred_columns", "options")


def _schema(connection: Connection) -> dict[str, Any]:
    """Everything about the tables that matters: columns, keys, indexes, constraints."""
    inspector = inspect(connection)
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        columns = inspector.get_columns(table)
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in columns
            ],
            "primary_key": inspector.get_pk_constraint(table),
            "foreign_keys": sorted(
                [fk[key] for key in FOREIGN_KEY_PARTS] for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], i["column_names"], bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted((u["column_names"],) for u in inspector.get_unique_constraints(table)),
        }
    return schema


async def test_a_new_database_gets_the_schema_the_migrations_build(tmp_path: Path):
    migrated = Database(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")
    async with migrated.engine.begin() as connection:
        await connection.run_sync(_upgrade)  # every migration, as an old database gets them
    created = Database(f"sqlite+aiosqlite:///{tmp_path / 'created.db'}")
    await created.migrate()  # a new file: from the models, without Alembic
    try:
        async with migrated.engine.connect() as a, created.engine.connect() as b:
            assert await b.run_sync(_schema) == await a.run_sync(_schema)
            version = "SELECT version_num FROM alembic_version"
            assert await b.scalar(text(version)) == await a.scalar(text(version)) == SCHEMA_HEAD
    finally:
        await migrated.close()
        await created.close()


async def test_a_database_at_the_newest_schema_starts_with_one_query(db: Database):
    statements: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute", _record(statements))
    await db.migrate()
    assert statements == ["SELECT version_num FROM alembic_version"]


def _record(statements: list[str]) -> Any:
    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    return record
