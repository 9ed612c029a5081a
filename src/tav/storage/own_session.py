"""A PostgreSQL session of a process's own, outside the pool: for what only a session
holds (``LISTEN``, an advisory lock held by the session).

A pooled connection is someone else's between two uses; a ``LISTEN`` or a session lock
needs one connection that stays, and its end known at once: ``ended`` is set when asyncpg
learns the server ended the session, and ``answers`` asks whether it still answers (a
network cut that no one reported). Like every ``LISTEN`` or session lock, it must reach
PostgreSQL directly or through a pooler in session mode.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tav.storage.db import Database


def failures() -> tuple[type[BaseException], ...]:
    """What a session's trouble raises: the network, a timeout, the driver, the server."""
    import asyncpg  # (imported by the processes that open such a session only)

    return (OSError, TimeoutError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError)


class OwnSession:
    """One connection to ``db``'s database, named ``name`` in ``pg_stat_activity``."""

    def __init__(self, db: Database, name: str, **settings: str) -> None:
        self.db = db
        self.settings = {"application_name": name[:63], **settings}
        self.ended = asyncio.Event()
        self.driver: Any = None
        """asyncpg's connection, while open."""
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None

    async def open(self, timeout_s: float) -> Any:
        """Open the session (within ``timeout_s``); returns asyncpg's connection."""
        ended = self.ended = asyncio.Event()
        self._engine = create_async_engine(
            self.db.engine.url, poolclass=NullPool, connect_args={"server_settings": self.settings}
        )
        async with asyncio.timeout(timeout_s):
            self._connection = await self._engine.connect()
            driver = (await self._connection.get_raw_connection()).driver_connection
        assert driver is not None
        driver.add_termination_listener(lambda _connection: ended.set())
        self.driver = driver
        return driver

    async def answers(self, timeout_s: float) -> bool:
        """Whether the session is open and answers within ``timeout_s``; raises what
        ``failures`` lists when it does not."""
        if self.driver is None or self.ended.is_set():
            return False
        async with asyncio.timeout(timeout_s):
            await self.driver.fetchval("SELECT 1")
        return True

    async def close(self) -> None:
        """End the session (never given to anyone else: it is not pooled)."""
        connection, engine = self._connection, self._engine
        self._connection = self._engine = self.driver = None
        if connection is not None:
            with suppress(*failures()):
                await connection.invalidate()
                await connection.close()
        if engine is not None:
            await engine.dispose()
