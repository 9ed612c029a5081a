"""In-memory event bus with per-execution replay.

Every published event is kept while its execution runs, so a watcher that subscribes
late — or reconnects with the last ``seq`` it saw — gets what it missed, then live events,
and its stream ends after the execution's final event (``execution.waiting`` included: a
waiting execution that resumes publishes on; a watcher that has seen everything up to its
``execution.waiting`` follows what it does when it resumes). Finished executions keep their
events until ``retain_events`` events of finished executions are held in all; the oldest
go first. (A host with a persistent store replays older executions from there.)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence

from tav.core.events import FINAL_EVENT_TYPES, RESUMABLE_EVENT_TYPES, Event
from tav.engine.ports import EventSink

DEFAULT_RETAIN_EVENTS = 50_000


class _Channel:
    __slots__ = ("events", "finished", "watchers")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.watchers: set[asyncio.Queue[Event]] = set()
        self.finished = False


class InMemoryBus:
    """``sinks`` also receive every event as it is published (e.g. the persistent store)."""

    def __init__(
        self, retain_events: int = DEFAULT_RETAIN_EVENTS, *, sinks: Sequence[EventSink] = ()
    ) -> None:
        self._sinks = tuple(sinks)
        self._channels: dict[str, _Channel] = {}
        self._finished: OrderedDict[str, int] = OrderedDict()
        self._finished_events = 0
        self._retain = retain_events

    def publish(self, event: Event) -> None:
        for sink in self._sinks:
            sink.publish(event)
        channel = self._channels.get(event.execution_id)
        if channel is None:
            channel = self._channels[event.execution_id] = _Channel()
        elif channel.finished and event.type not in FINAL_EVENT_TYPES:
            self._reopen(event.execution_id, channel)  # a waiting execution resumed
        channel.events.append(event)
        for queue in channel.watchers:
            queue.put_nowait(event)
        if event.type in FINAL_EVENT_TYPES:
            channel.finished = True
            self._retire(event.execution_id, len(channel.events))

    async def subscribe(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        channel = self._channels.get(execution_id)
        if channel is None:
            channel = self._channels[execution_id] = _Channel()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        backlog = [e for e in channel.events if e.seq > after]
        # One that waits, and whose watcher has seen it all: it follows its resumption.
        parked = channel.finished and channel.events[-1].type in RESUMABLE_EVENT_TYPES
        finished = channel.finished and (bool(backlog) or not parked)
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
            self._forget_if_unused(execution_id, channel)

    def watching(self, execution_id: str) -> int:
        """How many subscribers follow one execution now."""
        channel = self._channels.get(execution_id)
        return len(channel.watchers) if channel else 0

    def events(self, execution_id: str) -> list[Event]:
        """Everything kept for one execution."""
        channel = self._channels.get(execution_id)
        return list(channel.events) if channel else []

    def _forget_if_unused(self, execution_id: str, channel: _Channel) -> None:
        """Drop a channel its last watcher leaves that nothing else keeps: one retired while
        it was watched, or one watched for an execution that published nothing."""
        if channel.watchers or self._channels.get(execution_id) is not channel:
            return
        retired = channel.finished and execution_id not in self._finished
        if retired or not channel.events:
            del self._channels[execution_id]

    def _reopen(self, execution_id: str, channel: _Channel) -> None:
        channel.finished = False
        count = self._finished.pop(execution_id, None)
        if count is not None:
            self._finished_events -= count

    def _retire(self, execution_id: str, count: int) -> None:
        self._finished[execution_id] = count
        self._finished_events += count
        while self._finished_events > self._retain and len(self._finished) > 1:
            oldest, oldest_count = self._finished.popitem(last=False)
            self._finished_events -= oldest_count
            channel = self._channels.get(oldest)
            if channel is not None and not channel.watchers:
                del self._channels[oldest]
