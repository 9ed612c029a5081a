"""Queue mode's cancellations: asking the worker that runs an execution to stop it.

A request is a flag on the execution's row (``cancel_requested_at``), set in one
transaction with a PostgreSQL ``NOTIFY`` on ``CHANNEL`` that carries the execution's id:

- the flag is what counts. A worker reads it when it claims the execution (one claimed
  later, by a worker that took over, is cancelled as soon as it starts) and with every
  renewal of its leases (``tav.storage.leases``), so a worker that missed the
  notification (its listening connection was down) stops the execution within a third
  of a lease all the same;
- the notification is the fast path: every worker listens (``CancelListener``), and the
  one that holds the execution stops it at once (a few milliseconds after the commit).

Rejected: Redis pub/sub, or a broadcast through Celery's remote control, as the fast path
(neither is there with both brokers: queue mode runs on Redis or RabbitMQ, but always on
PostgreSQL, and a notification is sent only if the flag was committed, never before); the
flag alone (a renewal every third of ``TAV_QUEUE_LEASE_S``, 5 s by default, is too slow
to stop an execution by hand); a row per request in a table of its own (the flag on the
row the lease already locks says the same, and goes with the execution when it is
deleted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from sqlalchemy import func, select, update

from tav.storage.db import Database
from tav.storage.executions import UNFINISHED
from tav.storage.models import ExecutionRow
from tav.storage.own_session import OwnSession, failures

logger = logging.getLogger("tav.queue")
CHANNEL = "tav_cancel"
RECONNECT_S = 1.0
CHECK_S = 5.0


async def request_cancel(db: Database, execution_id: str, *, child: bool = False) -> bool:
    """Flag the top-level execution as to be cancelled and notify the workers; ``False``
    if there is no such unfinished execution (it ended, or it is a sub-execution, which
    stops with its parent — but with ``child``: one that goes on by itself, its wait
    decided, while its parent's node waits for it)."""
    top = ExecutionRow.parent_id.is_(None)
    flag = (
        update(ExecutionRow)
        .where(
            ExecutionRow.id == execution_id,
            ExecutionRow.status.in_(UNFINISHED),
            *(() if child else (top,)),
        )
        .values(cancel_requested_at=func.coalesce(ExecutionRow.cancel_requested_at, func.now()))
        .returning(ExecutionRow.id)
    )
    async with db.begin() as connection:
        if (await connection.execute(flag)).first() is None:
            return False
        await connection.execute(select(func.pg_notify(CHANNEL, execution_id)))
    return True


class CancelListener:
    """Listens for cancellations on a PostgreSQL connection of its own (``LISTEN``) and
    calls ``on_cancel`` with each execution's id, on the event loop that runs it.

    The connection is asked every ``CHECK_S`` whether it still answers, and opened again
    when it does not (a database restarted, a network cut that no one reported); what is
    requested meanwhile is found by the lease renewals. As for every ``LISTEN``, it must
    reach PostgreSQL directly or through a pooler in session mode."""

    def __init__(self, db: Database, on_cancel: Callable[[str], None]) -> None:
        self._db = db
        self._on_cancel = on_cancel
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="tav cancel listener")

    async def _listen_forever(self) -> None:
        trouble = failures()
        while True:
            try:
                await self._listen_once()
            except trouble as exc:
                logger.warning("listening for cancellations failed: %s", exc)
            else:
                logger.warning("listening for cancellations failed: the connection closed")
            await asyncio.sleep(RECONNECT_S)

    async def _listen_once(self) -> None:
        session = OwnSession(self._db, "tav cancel listener")
        try:
            driver = await session.open(CHECK_S)
            await driver.add_listener(CHANNEL, self._heard)
            while True:
                with suppress(TimeoutError):
                    async with asyncio.timeout(CHECK_S):
                        await session.ended.wait()
                if not await session.answers(CHECK_S):
                    return
        finally:
            await session.close()

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_cancel(payload)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
