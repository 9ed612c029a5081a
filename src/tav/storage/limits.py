"""Limits that queue mode's processes share, counted in PostgreSQL (``limit_holds``).

Resource pools and a credential's AI limits must hold for the whole deployment, not per
worker: at most ``http: 64`` requests at once across every worker, at most 60 model calls a
minute on one API key. Each place taken is a row of ``limit_holds`` under a key
(``pool:http``, ``ai:<credential>``, ``ai-rate:<credential>``, ``ai-hold:<credential>``)
with an expiry:

- a *held* place (a pool's slot, a credential's concurrent call) is renewed by the process
  holding it every third of ``lease_s`` until it is given back, so a process that is
  SIGKILLed, freezes or loses the database leaves its places for at most ``lease_s``
  (``TAV_QUEUE_LEASE_S``), as its executions' leases;
- a *timed* place goes by itself: the start of a call within a requests-per-minute window
  (gone a window later), a Retry-After hold-off.

Taking a place is one transaction: ``pg_advisory_xact_lock`` on the key (so two processes
never both see the last free place), then one statement that forgets the key's expired
places and inserts the new one only if fewer than the limit are left. A process that gives
a place back stops renewing it first, so a place whose deletion failed (the database was
away) expires all the same.

Why PostgreSQL: queue mode always has it, where Redis is there only with a Redis broker
(RabbitMQ deployments may have none); a place costs two short transactions, next to a
node that makes an HTTP request or a model call. Libraries considered: ``limits`` (no
PostgreSQL storage), ``pyrate-limiter`` (a PostgreSQL bucket through psycopg's own pool,
for rates only: nothing for a concurrency slot that must expire with its holder), Redis
semaphores (need Redis). PostgreSQL session-level advisory locks as slots (released the
moment their session ends) were rejected: every held lock takes a place in PostgreSQL's
shared lock table, and a requests-per-minute window of thousands would exhaust it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from tav.storage.db import Database
from tav.storage.models import LimitHoldRow

logger = logging.getLogger("tav.storage.limits")
LOCK_SPACE = int.from_bytes(b"tav\x01", "big")
"""The first key of ``pg_advisory_xact_lock(space, hashtext(key))``: limits' own."""
FORGET_AFTER = timedelta(minutes=10)
"""Expired places of keys nobody takes any more are deleted this long after."""

_LOCK = text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))")
_TAKE = text(
    """
    WITH expired AS (DELETE FROM limit_holds WHERE key = :key AND expires_at <= now())
    INSERT INTO limit_holds (token, key, holder, expires_at)
    SELECT :token, :key, :holder, now() + make_interval(secs => :seconds)
    WHERE (
        SELECT count(*) FROM limit_holds WHERE key = :key AND expires_at > now()
    ) < :limit
    RETURNING token
    """
)


class LimitHolds:
    """Places in shared limits (``tav.engine.ports.SharedLimits``), for one process."""

    def __init__(self, db: Database, *, holder: str, lease_s: float) -> None:
        """``holder``: this process's name (``host:pid``); ``lease_s``: how long a held
        place outlives its last renewal."""
        self.db = db
        self.holder = holder
        self.lease_s = lease_s
        self.held: set[str] = set()
        """The tokens of the places this process holds, and renews."""
        self._renewing: asyncio.Task[None] | None = None

    async def take(self, key: str, limit: int, *, for_s: float | None = None) -> str | None:
        token = secrets.token_hex(16)
        held = for_s is None
        values = {
            "key": key,
            "token": token,
            "holder": self.holder if held else None,
            "seconds": self.lease_s if held else for_s,
            "limit": limit,
        }
        async with self.db.begin() as connection:
            await connection.execute(_LOCK, {"space": LOCK_SPACE, "key": key})
            taken = (await connection.execute(_TAKE, values)).scalar()
        if taken is None:
            return None
        if held:
            self.held.add(token)
            self._renew_soon()
        return token

    async def give_back(self, token: str) -> None:
        """Free the place; one that cannot be deleted now expires within a lease."""
        self.held.discard(token)
        try:
            async with self.db.begin() as connection:
                await connection.execute(delete(LimitHoldRow).where(LimitHoldRow.token == token))
        except (OSError, SQLAlchemyError) as exc:
            logger.warning("cannot give a limit's place back (it expires by itself): %s", exc)

    async def next_free_s(self, key: str) -> float:
        return await self._seconds(func.min(LimitHoldRow.expires_at), key)

    async def hold_off(self, key: str, seconds: float) -> None:
        hold = insert(LimitHoldRow).values(
            token=secrets.token_hex(16),
            key=key,
            holder=None,
            expires_at=func.now() + timedelta(seconds=seconds),
        )
        try:
            async with self.db.begin() as connection:
                await connection.execute(hold)
        except (OSError, SQLAlchemyError) as exc:  # this process holds off all the same
            logger.warning("cannot note a hold-off of %s for the other processes: %s", key, exc)

    async def held_off(self, key: str) -> float:
        return await self._seconds(func.max(LimitHoldRow.expires_at), key)

    async def _seconds(self, moment: ColumnElement[datetime], key: str) -> float:
        """Seconds from now until ``moment`` among the unexpired places of ``key``."""
        statement = select(func.extract("epoch", moment - func.now())).where(
            LimitHoldRow.key == key, LimitHoldRow.expires_at > func.now()
        )
        async with self.db.session() as session:
            found = await session.scalar(statement)
        return max(0.0, float(found)) if found is not None else 0.0

    async def renew(self) -> None:
        """Move the expiry of every place this process holds a lease on, and forget the
        places that expired long ago."""
        lease = timedelta(seconds=self.lease_s)
        async with self.db.begin() as connection:
            if self.held:
                await connection.execute(
                    update(LimitHoldRow)
                    .where(LimitHoldRow.token.in_(list(self.held)))
                    .values(expires_at=func.now() + lease)
                )
            await connection.execute(
                delete(LimitHoldRow).where(LimitHoldRow.expires_at < func.now() - FORGET_AFTER)
            )

    async def aclose(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
            self._renewing = None

    def _renew_soon(self) -> None:
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.create_task(self._renew_forever(), name="limit renewal")

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.renew()
            except (OSError, SQLAlchemyError) as exc:
                logger.warning("cannot renew the places this process holds in limits: %s", exc)
