"""The database layer on SQLite: migrations, inline connections, one writer at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from tav.core.events import utcnow
from tav.storage.db import SCHEMA_HEAD, Database, alembic_config
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
