"""How many PostgreSQL connections each process opens at most, so that a deployment's
total is known before it starts, and fits PostgreSQL's ``max_connections``:

    connections = sum over tav serve   (TAV_DATABASE_POOL_SIZE + 2)
                + sum over tav worker  (3 + ceil(concurrency / 4) + 1)

- ``tav serve``: its pool (``TAV_DATABASE_POOL_SIZE``, 10 by default), and two sessions of
  its own, outside the pool: the trigger leader's lock and the co-editing relay (opened
  with its first room, queue mode only);
- ``tav worker``: its pool, from its ``--concurrency``, and one session of its own: the
  listener of cancellations.

A worker's pool. What needs a connection at once in a worker: the writer (one transaction
at a time, for every execution it runs), the renewal of leases and of shared places, and
each execution for its claim and start (a few short reads), and for each node that takes
a place in a shared pool or limit (a short transaction before and after its HTTP request
or model call). Each holds its connection for milliseconds, next to executions that take
from milliseconds to minutes, so one connection serves several executions:
``WORKER_FIXED`` for the writer and the renewals, and one for every
``EXECUTIONS_PER_CONNECTION`` executions the worker runs at once. A session that finds the
pool busy waits for a connection (up to ``tav.storage.db.POOL_TIMEOUT_S``); it never
opens one more.

Rejected: a pool per worker as large as its concurrency (50 executions at once would keep
50 connections, mostly idle: four workers exceed PostgreSQL's default 100), and pools that
overflow (what a process opens would have no bound, and the connections opened past the
pool are closed after each use: PostgreSQL forks a process for every new one).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sqlalchemy import text

from tav.storage.db import Database
from tav.storage.own_session import failures

logger = logging.getLogger("tav.storage")
SERVE_SESSIONS = ("the trigger leader's lock", "the co-editing relay")
WORKER_SESSIONS = ("the cancellation listener",)
SIZING = "docs/deployment/scaling.md#postgresql-connections"
WORKER_FIXED = 3
EXECUTIONS_PER_CONNECTION = 4
_SERVER = text(
    "SELECT current_setting('max_connections')::int"
    " - current_setting('superuser_reserved_connections')::int,"
    " (SELECT count(*) FROM pg_stat_activity WHERE datname IS NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Connections:
    """What one process opens at most: its pool, and its sessions of its own."""

    pool: int
    sessions: tuple[str, ...]
    role: str

    @property
    def most(self) -> int:
        return self.pool + len(self.sessions)

    def describe(self) -> str:
        own = f"{len(self.sessions)} of its own ({', '.join(self.sessions)})"
        return f"at most {self.most} PostgreSQL connections: a pool of {self.pool} and {own}"


def worker_pool(concurrency: int) -> int:
    """A worker's pool for ``concurrency`` executions at once (see the module's docstring)."""
    return WORKER_FIXED + math.ceil(concurrency / EXECUTIONS_PER_CONNECTION)


def for_server(pool_size: int) -> Connections:
    return Connections(pool_size, SERVE_SESSIONS, "tav serve")


def for_worker(concurrency: int) -> Connections:
    return Connections(worker_pool(concurrency), WORKER_SESSIONS, "tav worker")


def deployment(servers: list[int], workers: list[int]) -> int:
    """The most connections a deployment opens: ``servers``, the pool size of each
    ``tav serve``; ``workers``, the concurrency of each ``tav worker``."""
    return sum(for_server(size).most for size in servers) + sum(
        for_worker(concurrency).most for concurrency in workers
    )


async def announce(db: Database, connections: Connections) -> None:
    """Log what this process may open, beside what the database server allows and has
    open now; a warning if this process alone would not fit."""
    said = f"{connections.role}: {connections.describe()}"
    if db.is_sqlite:
        return
    try:
        async with db.session() as session:
            allowed, open_now = (await session.execute(_SERVER)).one()
    except failures() as exc:  # (only said: the process goes on, and meets it again)
        logger.warning("%s; PostgreSQL's max_connections unknown: %s", said, exc)
        return
    said += f"; PostgreSQL takes {allowed}, {open_now} open now (this one's first included)"
    if connections.most > allowed - open_now + 1:
        logger.warning("%s: raise max_connections or lower the pools (%s)", said, SIZING)
    else:
        logger.info("%s", said)
