"""SQLite for SQLAlchemy's aiosqlite dialect, without aiosqlite's thread.

aiosqlite runs every call on a thread of its own and hands the result back to the event
loop. For SQLite, whose calls take microseconds, the hand-over costs far more than the
query, and under load the hops queue behind the GIL. Measured on a 2-core machine: a
one-row ORM read took ~0.9 ms through aiosqlite and ~0.55 ms here (the query itself ~6 µs
in ``sqlite3``); 100 executions started at once took 13-33 ms each to record through
aiosqlite, ~4 ms here. So the dialect is given (``async_creator``) connections with
aiosqlite's interface that call ``sqlite3`` in the event loop's own thread: each call
finishes at once, like the query it runs.

The price is that a slow statement holds up the event loop while it runs. Hence small
transactions (the writer puts many rows in one statement; pruning deletes in chunks), and
one writer at a time within the process (``Database.transaction``), so that a transaction
never sleeps in SQLite's busy handler waiting for another one of this process.
Rejected: a dedicated database thread with a queue (what aiosqlite is), and ``sqlite3``
calls outside SQLAlchemy (two ways to talk to one database).

Every connection loads sqlite-vec when it can (``tav.storage.sqlite``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tav.storage.private import private_database
from tav.storage.sqlite import load_extensions


class InlineCursor:
    """``aiosqlite.Cursor`` over a ``sqlite3.Cursor``, run in the calling thread."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()


class _InlineQueue:
    """Stands in for aiosqlite's request queue (SQLAlchemy sets the isolation level
    through it): runs the function at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """``aiosqlite.Connection`` over a ``sqlite3.Connection``, run in the calling thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._tx = _InlineQueue()

    @property
    def _connection(self) -> sqlite3.Connection | None:  # what SQLAlchemy checks
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> InlineCursor:
        """A cursor; awaitable as ``async with`` (``aiosqlite`` hands out a context)."""
        return InlineCursor(self._open().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        return InlineCursor(self._open().execute(sql, parameters))

    async def executescript(self, sql: str) -> None:
        self._open().executescript(sql)

    async def commit(self) -> None:
        self._open().commit()

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def inline_creator(path: str, **options: Any) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine``: inline connections to ``path``."""
    prepared = path == ":memory:" or bool(options.get("uri"))

    async def connect() -> InlineConnection:
        nonlocal prepared
        if not prepared:  # the data dir and the database file, mode 0700 and 0600
            private_database(Path(path))
            prepared = True
        # Any thread may close a pooled connection (the pool's garbage collection).
        connection = sqlite3.connect(path, check_same_thread=False, **options)
        load_extensions(connection)
        return InlineConnection(connection)

    return connect
