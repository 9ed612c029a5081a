"""Migration 0010 (team members) on SQLite and PostgreSQL: the keys that existed become
the owner's, a key made before any account stays without one, and the downgrade undoes it
all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tav.core.events import utcnow
from tav.storage.db import SCHEMA_HEAD, Database, alembic_config
from tests.conftest import PG_ADMIN_URL


def _to(revision: str, *, down: bool = False) -> Callable[[Connection], None]:
    def move(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    return move


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}"
        return
    name = f"tav_migration_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _insert_key(connection: AsyncConnection, key_id: str) -> None:
    await connection.execute(
        text(
            "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) "
            "VALUES (:id, 'ci', 'tav_abcd', :hash, :now)"
        ),
        {"id": key_id, "hash": key_id * 2, "now": utcnow()},
    )


async def test_the_keys_that_existed_become_the_owners(empty_database: str) -> None:
    db = Database(empty_database)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_to("0009"))
            await connection.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, role, created_at) "
                    "VALUES (:id, 'owner@example.com', 'x', 'owner', :now)"
                ),
                {"id": "o" * 32, "now": utcnow()},
            )
            await _insert_key(connection, "a" * 32)
        await db.migrate()
        async with db.engine.connect() as connection:
            owners = await connection.execute(text("SELECT id, user_id FROM api_keys"))
            assert owners.all() == [("a" * 32, "o" * 32)]
            assert await connection.scalar(text("SELECT version_num FROM alembic_version")) == (
                SCHEMA_HEAD
            )
            users = await connection.execute(text("SELECT disabled_at FROM users"))
            assert users.all() == [(None,)]
    finally:
        await db.close()


async def test_a_key_made_before_any_account_keeps_none(empty_database: str) -> None:
    db = Database(empty_database)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_to("0009"))
            await _insert_key(connection, "b" * 32)
            await connection.run_sync(_to("0010"))
            keys = await connection.execute(text("SELECT id, user_id FROM api_keys"))
            assert keys.all() == [("b" * 32, None)]
    finally:
        await db.close()


async def test_the_downgrade_takes_back_everything_the_upgrade_added(
    empty_database: str,
) -> None:
    db = Database(empty_database)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_to("0010"))
            await connection.run_sync(_to("0009", down=True))
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            assert "invites" not in tables
            for table, column in [
                ("users", "disabled_at"),
                ("api_keys", "user_id"),
                ("workflow_versions", "created_by"),
                ("executions", "started_by"),
            ]:
                columns = await connection.run_sync(
                    lambda sync, table=table: inspect(sync).get_columns(table)
                )
                assert column not in {c["name"] for c in columns}, table
            await connection.run_sync(_to("0010"))  # and up again
    finally:
        await db.close()
