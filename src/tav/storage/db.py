"""The database: engine creation, SQLite PRAGMAs, migrations at start-up.

SQLite runs in WAL mode with foreign keys on, a busy timeout and synchronous=NORMAL (the
usual durable-enough setting for WAL: a power cut may lose the last transactions, never
corrupt the file). PostgreSQL runs through asyncpg with the same code.

SQLite takes one writer at a time. Two write transactions of this process on two pooled
connections would meet in SQLite's busy handler, which sleeps in steps of up to 100 ms
(and a read transaction that turns into a write can fail outright); so on SQLite,
``transaction()`` queues the process's writers on an asyncio lock instead. The busy timeout
remains for other processes (``tav api-keys create`` while the server runs).
"""

from __future__ import annotations

import asyncio
import errno
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tav.storage.inline_sqlite import inline_creator

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "0017"
"""The newest migration's revision (a test keeps it in step): when the database is at it,
start-up skips Alembic altogether (one query), which saves ~0.3 s of imports."""
POOL_SIZE = 10
"""PostgreSQL: a pool's size unless told (``TAV_DATABASE_POOL_SIZE`` for ``tav serve``)."""
SQLITE_PRAGMAS = (
    "PRAGMA auto_vacuum=INCREMENTAL",  # takes effect on a new file; see reclaim_space
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)


UNREACHABLE_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)


REFUSING_SQLSTATES = frozenset({"53300", "57P03"})
"""PostgreSQL's answers to a new connection it will not take: ``too_many_connections``
(``max_connections``, or a role's or database's connection limit) and
``cannot_connect_now`` (starting up or shutting down)."""
POOL_TIMEOUT_S = 30.0
"""How long a session waits for a free connection of a full pool before it fails
(``PoolTimeout``: answered ``503 database_unavailable``)."""


def refused(exc: BaseException) -> str | None:
    """PostgreSQL's reason when ``exc`` is its refusal of a new connection (too many
    connections, starting up); ``None`` for anything else."""
    for error in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        if getattr(error, "sqlstate", None) in REFUSING_SQLSTATES:
            return str(error) or "the connection was refused"
    return None


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (a connection refused, cut or
    lost, no pooled connection free in time), rather than that a statement failed."""
    if refused(exc) is not None:
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, InterfaceError)
    if isinstance(exc, (PoolTimeout, ConnectionError)):
        return True
    if isinstance(exc, OSError) and exc.errno in UNREACHABLE_ERRNOS:
        return True
    if "asyncpg" in sys.modules:  # (imported with a PostgreSQL database only)
        import asyncpg

        return isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError))
    return False


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = POOL_SIZE) -> None:
        """``pool_size``: PostgreSQL: the most connections the pool opens (sessions beyond
        them wait up to ``POOL_TIMEOUT_S`` for one); see ``tav.app.connections``."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.pool_size = pool_size
        self.engine: AsyncEngine = _create_engine(url, echo=echo, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed at the end (for anything that writes)."""
        async with self._writing(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed at the end: for Core statements only
        (the execution writer's), without the cost of an ORM session."""
        async with self._writing(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def migrate(self) -> None:
        """Bring the schema to the newest version: one query when it already is.

        A new SQLite database gets the newest schema straight from the models, stamped
        with ``SCHEMA_HEAD``, as Alembic's "building an up to date database from scratch"
        recipe does (a test checks that it is the schema the migrations build): the
        migrations would take ~0.3 s and ~10 MB of imports on a first start."""
        async with self._writing():
            async with self.engine.connect() as connection:
                if await connection.run_sync(_schema_version) == SCHEMA_HEAD:
                    return
            async with self.engine.begin() as connection:
                await connection.run_sync(_create_or_upgrade)

    async def reclaim_space(self) -> None:
        """Give freed pages back to the file system (SQLite; PostgreSQL autovacuums).

        The file shrinks once the write-ahead log is checkpointed into it, so that is done
        here too (and the log truncated)."""
        if self.is_sqlite:
            async with self._writing(), self.engine.connect() as connection:
                raw = await connection.get_raw_connection()
                # A script, because each step of this PRAGMA frees one page, and a plain
                # execute() takes one step.
                await raw.driver_connection.executescript(  # type: ignore[union-attr]
                    "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"
                )

    async def close(self) -> None:
        await self.engine.dispose()


def _create_engine(url: str, *, echo: bool, pool_size: int) -> AsyncEngine:
    options: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        parsed = make_url(url)
        uri = parsed.query.get("uri") == "true"
        path = parsed.database or ":memory:"
        options["async_creator"] = inline_creator(path, timeout=30, uri=uri)
        # Connections are cheap to keep and slow to open (PRAGMAs): keep enough for the
        # sessions a busy server has open at once.
        options.update(pool_size=8, max_overflow=24)
    else:
        # No overflow: the pool's size is the most this process opens, so a deployment's
        # connections add up to a known number (``tav.app.connections``); and the
        # connections stay open (an overflow one is closed after each use, and
        # PostgreSQL forks a process for every new one).
        options.update(
            pool_size=pool_size, max_overflow=0, pool_timeout=POOL_TIMEOUT_S, pool_pre_ping=True
        )
    engine = create_async_engine(url, **options)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def alembic_config() -> Any:
    """The Alembic configuration of the package's migrations (``alembic.config.Config``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _schema_version(connection: Connection) -> str | None:
    """The schema's revision; ``None`` when there is none (or no ``alembic_version``)."""
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def _create_or_upgrade(connection: Connection) -> None:
    if connection.dialect.has_table(connection, "alembic_version"):
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if version == SCHEMA_HEAD:
            return  # another process was first
    elif connection.dialect.name == "sqlite" and not inspect(connection).get_table_names():
        _create_newest(connection)
        return
    _upgrade(connection)


def _create_newest(connection: Connection) -> None:
    from tav.storage.models import Base

    Base.metadata.create_all(connection)
    version = Table(
        "alembic_version",  # as Alembic creates it
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=SCHEMA_HEAD))


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
