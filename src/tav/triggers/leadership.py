"""Trigger leadership: which API process arms the triggers that run in the background.

Several ``tav serve`` processes may share one database. Webhooks are served by each of
them (a request reaches one process only), but a schedule, an MQTT subscription or a
mailbox poller armed by each would fire once per process. So one process, the *leader*,
arms those; the others (followers) arm only what requests drive, and try to become the
leader every ``retry_s``. Leadership is a lock (``LeaderLock``: on PostgreSQL, an advisory
lock held by a session of the leader's own): a leader that dies, or whose connection to
the database breaks, loses it, and the next follower to try takes over. A leader that
loses its lock disarms its background triggers at once, before any other process could
have taken it.

On SQLite (one process, one file) there is no lock and the one process leads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from tav.triggers.ports import LeaderLock

logger = logging.getLogger("tav.triggers")
RETRY_S = 1.0


def process_name() -> str:
    """This process as leadership names it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    """Becomes the leader when it can, and says so, and when it no longer is."""

    def __init__(self, lock: LeaderLock, *, retry_s: float = RETRY_S) -> None:
        self.lock = lock
        self.retry_s = retry_s
        self.leading = False

    async def acquire(self) -> bool:
        """Try once to lead (the database may be away: then not)."""
        self.leading = await self.lock.acquire()
        if self.leading:
            logger.info("this process (%s) leads the triggers", self.lock.name)
        return self.leading

    async def keep(
        self, gained: Callable[[], Awaitable[None]], lost: Callable[[], Awaitable[None]]
    ) -> None:
        """Forever: while leading, wait until the lock is lost, then ``lost()``; while
        following, try every ``retry_s``, and ``gained()`` once it leads."""
        while True:
            if self.leading:
                await self.lock.lost()
                self.leading = False
                logger.warning("this process (%s) no longer leads the triggers", self.lock.name)
                await lost()
            await asyncio.sleep(self.retry_s)
            if await self.acquire():
                await gained()

    async def release(self) -> None:
        self.leading = False
        await self.lock.release()

    async def holder(self) -> str | None:
        return await self.lock.holder()
