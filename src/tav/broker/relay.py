"""Live events between processes over Redis (queue mode with a Redis broker).

A worker appends every event of the executions it runs (``publish``: an ``EventSink`` of
its bus) to a Redis stream per execution, ``tav:events:<execution id>`` (capped, and gone
an hour after its last event); an API process reads it (``subscribe``: the ``EventBus``
its watchers use), so ``GET /executions/{id}/stream`` on any API process streams a
worker's execution live. A stream rather than pub/sub: like the in-process bus, it replays
what happened before the watcher came (an execution that keeps only a summary of its
successes stores no events until it ends), and a watcher that reconnects misses nothing.

Nothing is lost if Redis is away: the store has every event, and a watcher asks it again
whenever the relay is quiet (``tav.storage.watch``); events seen twice are dropped by
their ``seq``.

With RabbitMQ as the broker there is no relay in this version: watchers follow a worker's
execution from the store (every ``tav.storage.watch.POLL_S``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import cast

import redis.asyncio as aioredis

from tav.core.events import EVENT_ADAPTER, FINAL_EVENT_TYPES, Event

logger = logging.getLogger("tav.broker")
PREFIX = "tav:events:"
KEEP_S = 3600
MAX_EVENTS = 10_000
BLOCK_MS = 5_000
_Entries = list[tuple[bytes, list[tuple[str, dict[bytes, bytes]]]]] | None
"""What XREAD answers: per stream, its entries (id, fields)."""


class EventRelay:
    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None)
        self._outbox: list[tuple[str, bytes]] = []
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    # -- a worker's side ------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Hand the event over (never blocks: a task sends what accumulated, pipelined)."""
        self._outbox.append((PREFIX + event.execution_id, EVENT_ADAPTER.dump_json(event)))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())
        self._wake.set()

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key, data in batch:
                        pipe.xadd(key, {"e": data}, maxlen=MAX_EVENTS, approximate=True)
                    for key in {key for key, _ in batch}:
                        pipe.expire(key, KEEP_S)
                    await pipe.execute()
            except Exception as exc:  # live events are a convenience: the store has them
                logger.warning("could not relay %d events: %s", len(batch), exc)

    # -- an API process's side ------------------------------------------------------------

    async def subscribe(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        """The execution's events with ``seq > after``, those relayed so far first; ends
        after its final event."""
        key, last = PREFIX + execution_id, "0-0"
        while True:
            try:
                found = cast(
                    "_Entries", await self._redis.xread({key: last}, count=500, block=BLOCK_MS)
                )
            except Exception as exc:  # the broker went away: watchers read the store
                logger.warning("event relay interrupted: %s", exc)
                await asyncio.sleep(1)
                continue
            for _, entries in found or ():
                for entry_id, fields in entries:
                    last = entry_id
                    event = EVENT_ADAPTER.validate_json(fields[b"e"])
                    if event.seq <= after:
                        continue
                    after = event.seq
                    yield event
                    if event.type in FINAL_EVENT_TYPES:
                        return

    async def aclose(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        await self._redis.aclose()
