"""One leader among the processes of a PostgreSQL database: a session-level advisory lock.

``AdvisoryLock`` holds ``pg_try_advisory_lock`` on a connection of its own (not one of the
pool's), so the lock lives exactly as long as that session: a holder that is killed, or
whose connection breaks, loses it the moment PostgreSQL ends the session, and another
process takes it on its next try. Two settings bound the cases where PostgreSQL would not
notice by itself:

- a holder that freezes (SIGSTOP, a long pause) or is cut off by the network: its session
  is given ``idle_session_timeout`` = ``timeout_s``, and the holder asks every ``check_s``
  (at most a quarter of ``timeout_s``), so a live holder is never idle that long, while a
  silent one's session is ended by PostgreSQL after ``timeout_s``, and the lock with it;
- a holder whose question is not answered within half of ``timeout_s`` gives the lock up
  itself (``lost`` returns) before PostgreSQL would hand it to another.

Which process holds it is read from PostgreSQL itself (``holder``): ``pg_locks`` joined to
``pg_stat_activity``, whose ``application_name`` the holder's session sets to its name. No
table, so nothing to clean up after a dead holder.

The lock's connection must reach PostgreSQL directly, or through a pooler in *session*
mode: a transaction-mode pooler (PgBouncer's default) would hand the session's lock to
whichever client it serves next.

Rejected: a leader row with an expiry renewed by the leader (a lease): it needs clocks and
a renewal period to agree, and a killed leader is noticed only when its lease runs out,
where the session ends at once; and Redis (queue mode may run on RabbitMQ with no Redis).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from sqlalchemy import text

from tav.storage.db import Database
from tav.storage.own_session import OwnSession, failures

logger = logging.getLogger("tav.storage.leadership")

TRIGGER_LEADER = int.from_bytes(b"tav:lead", "big")
"""The key of the trigger leader's lock (one bigint, as ``pg_try_advisory_lock`` takes)."""
APPLICATION_PREFIX = "tav "

_HOLDER = text(
    """
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.classid = :high AND l.objid = :low
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
)


class AdvisoryLock:
    """A session-level advisory lock, held on a dedicated connection (``tav.triggers``'s
    ``LeaderLock``)."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        key: int = TRIGGER_LEADER,
        check_s: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        """``name``: this process's, as ``holder`` shows it (``host:pid``)."""
        self.db = db
        self.name = name
        self.key = key
        self.check_s = min(check_s, timeout_s / 4)
        self.timeout_s = timeout_s
        self._session: OwnSession | None = None
        self._failing = False

    async def acquire(self) -> bool:
        """Take the lock if nobody holds it; ``True`` if this process holds it now,
        ``False`` too when the database cannot be reached (said in the log; the next try
        connects again)."""
        try:
            driver = await self._connect()
            async with asyncio.timeout(self.timeout_s / 2):
                held = await driver.fetchval("SELECT pg_try_advisory_lock($1)", self.key)
        except failures() as exc:
            # Said once until it works again: a follower asks every second.
            level = logging.DEBUG if self._failing else logging.WARNING
            logger.log(level, "cannot ask the database for the lock: %s", exc)
            self._failing = True
            await self.release()
            return False
        except BaseException:
            await self.release()
            raise
        self._failing = False
        return bool(held)

    async def lost(self) -> None:
        """Return once this process no longer holds the lock: its session ended (at once),
        or did not answer within half of ``timeout_s``. The connection is closed then."""
        try:
            while (session := self._session) is not None:
                with suppress(TimeoutError):
                    async with asyncio.timeout(self.check_s):
                        await session.ended.wait()
                if session.ended.is_set() or not await self._answers(session):
                    return
        finally:
            await self.release()

    async def release(self) -> None:
        """Give the lock up (closing its session does), and close the connection."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def holder(self) -> str | None:
        """The name of the process that holds the lock now (any process may ask)."""
        params = {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF}
        async with self.db.session() as session:
            found = await session.scalar(_HOLDER, params)
        if found is None:
            return None
        return str(found).removeprefix(APPLICATION_PREFIX)

    async def _connect(self) -> Any:
        session = self._session
        if session is not None and session.driver is not None and not session.ended.is_set():
            return session.driver
        await self.release()
        session = self._session = OwnSession(self.db, f"{APPLICATION_PREFIX}{self.name}")
        driver = await session.open(self.timeout_s / 2)
        async with asyncio.timeout(self.timeout_s / 2):
            await self._limit_idle(driver)
        return driver

    async def _limit_idle(self, driver: Any) -> None:
        """PostgreSQL ends this session once it is idle ``timeout_s`` (its holder froze or
        was cut off), which releases the lock; PostgreSQL before 14 cannot."""
        import asyncpg

        milliseconds = max(1, round(self.timeout_s * 1000))
        try:
            await driver.execute(f"SET idle_session_timeout = {milliseconds}")
        except asyncpg.UndefinedObjectError:
            logger.warning(
                "this PostgreSQL has no idle_session_timeout (before 14): a frozen trigger "
                "leader keeps its lock until its connection breaks"
            )

    async def _answers(self, session: OwnSession) -> bool:
        try:
            return await session.answers(self.timeout_s / 2)
        except TimeoutError:
            logger.warning("the lock's database connection did not answer in time")
        except failures() as exc:
            logger.warning("the lock's database session ended: %s", exc)
        return False
