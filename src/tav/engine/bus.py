"""In-memory event bus with per-execution replay.

Every published event is kept per execution (up to ``max_executions`` recent ones), so a
watcher that subscribes late — or reconnects with the last ``seq`` it saw — gets what it
missed, then live events, and its stream ends after the execution's final event.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

from tav.core.events import FINAL_EVENT_TYPES, Event


class _Channel:
    __slots__ = ("events", "finished", "watchers")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.watchers: set[asyncio.Queue[Event]] = set()
        self.finished = False


class InMemoryBus:
    def __init__(self, max_executions: int = 1000) -> None:
        self._channels: OrderedDict[str, _Channel] = OrderedDict()
        self._max = max_executions

    def publish(self, event: Event) -> None:
        channel = self._channel(event.execution_id)
        channel.events.append(event)
        if event.type in FINAL_EVENT_TYPES:
            channel.finished = True
        for queue in channel.watchers:
            queue.put_nowait(event)

    async def subscribe(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        channel = self._channel(execution_id)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        backlog = [e for e in channel.events if e.seq > after]
        finished = channel.finished
        channel.watchers.add(queue)
        try:
            last = after
            for event in backlog:
                last = event.seq
                yield event
            while not finished:
                event = await queue.get()
                if event.seq <= last:
                    continue
                last = event.seq
                yield event
                finished = event.type in FINAL_EVENT_TYPES
        finally:
            channel.watchers.discard(queue)

    def events(self, execution_id: str) -> list[Event]:
        """Everything published for one execution so far."""
        channel = self._channels.get(execution_id)
        return list(channel.events) if channel else []

    def _channel(self, execution_id: str) -> _Channel:
        channel = self._channels.get(execution_id)
        if channel is None:
            channel = self._channels[execution_id] = _Channel()
            while len(self._channels) > self._max:
                oldest_id, oldest = next(iter(self._channels.items()))
                if oldest.watchers:
                    break
                del self._channels[oldest_id]
        return channel
