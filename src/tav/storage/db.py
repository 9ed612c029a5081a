"""The database: engine creation, SQLite PRAGMAs, migrations at start-up.

SQLite runs in WAL mode with foreign keys on, a busy timeout and synchronous=NORMAL (the
usual durable-enough setting for WAL: a power cut may lose the last transactions, never
corrupt the file). PostgreSQL runs through asyncpg with the same code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_PRAGMAS = (
    "PRAGMA auto_vacuum=INCREMENTAL",  # takes effect on a new file; see reclaim_space
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: AsyncEngine = _create_engine(url, echo=echo)
        self.dialect = self.engine.dialect.name
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest version (a no-op when it already is)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    async def reclaim_space(self) -> None:
        """Give freed pages back to the file system (SQLite; PostgreSQL autovacuums)."""
        if self.is_sqlite:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA incremental_vacuum")
                await connection.commit()

    async def close(self) -> None:
        await self.engine.dispose()


def _create_engine(url: str, *, echo: bool) -> AsyncEngine:
    options: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        _ensure_parent(url)
        options["connect_args"] = {"timeout": 30}
    else:
        options.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **options)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _ensure_parent(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
