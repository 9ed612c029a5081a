"""Following one execution's events: first what is stored, then what happens live.

A watcher subscribes to the bus first, then replays the store, then follows the bus, and
passes on only events past the last ``seq`` it passed on. The writer persists an event only
after the bus has published it, so what is stored is always a prefix of what the bus holds:
the two overlap instead of leaving a gap, and subscribing first keeps the bus from dropping
the execution's events while the store is read.

When the bus stays quiet for ``poll_s``, the store is asked again. That covers executions
this bus never sees (``tav run`` in another process on the same data dir) and one that
finished and left the bus just before the watcher subscribed. Rejected: polling the store
only (latency, and a query per event), and replaying the bus only (it forgets finished
executions and never saw those of earlier processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from tav.core.events import FINAL_EVENT_TYPES, RESUMABLE_EVENT_TYPES, event_to_dict
from tav.core.states import ExecutionStatus
from tav.engine.ports import EventBus
from tav.storage.executions import ExecutionRepository

POLL_S = 2.0


async def watch(
    executions: ExecutionRepository,
    bus: EventBus,
    execution_id: str,
    *,
    after: int = 0,
    poll_s: float = POLL_S,
) -> AsyncGenerator[dict[str, Any], None]:
    """Every event of one execution with ``seq > after``, in order, each once, as JSON-ready
    dicts; ends after the final event (at once for an execution that has finished)."""
    cursor = _Cursor(after)
    status = await executions.status(execution_id)
    if status is None or status.is_terminal:
        for event in cursor.new(await executions.events(execution_id, after=after)):
            yield event
        return
    live: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    pump = asyncio.create_task(_pump(bus, execution_id, after, live))
    try:
        await asyncio.sleep(0)  # the pump subscribes before the store is read
        for event in cursor.new(await executions.events(execution_id, after=after)):
            yield event
        if cursor.ended and cursor.parked:  # stored up to a park: does it still wait?
            cursor.ended = await executions.status(execution_id) is ExecutionStatus.WAITING
        while not cursor.ended:
            for event in await _next(executions, execution_id, cursor, live, poll_s):
                yield event
    finally:
        pump.cancel()
        await asyncio.wait({pump})  # so that its bus subscription ends with the watch


async def _next(
    executions: ExecutionRepository,
    execution_id: str,
    cursor: _Cursor,
    live: asyncio.Queue[dict[str, Any] | None],
    poll_s: float,
) -> list[dict[str, Any]]:
    """The next live event, or after ``poll_s`` of quiet whatever the store has."""
    try:
        async with asyncio.timeout(poll_s):
            event = await live.get()
    except TimeoutError:
        status = await executions.status(execution_id)
        events = cursor.new(await executions.events(execution_id, after=cursor.last))
        if status is None or status.is_terminal:
            cursor.ended = True
        elif cursor.ended and cursor.parked and status is not ExecutionStatus.WAITING:
            cursor.ended = False  # it resumed meanwhile: its next events are coming
        return events
    if event is None:  # the bus passed on the final event, so the cursor has seen it
        cursor.ended = True
        return []
    # With whatever else has come: an execution.waiting followed by more (the replay of
    # one that resumed) does not end the watch.
    arrived = [event]
    while not live.empty():
        more = live.get_nowait()
        if more is None:
            fresh = cursor.new(arrived)
            cursor.ended = True
            return fresh
        arrived.append(more)
    return cursor.new(arrived)


async def _pump(
    bus: EventBus, execution_id: str, after: int, into: asyncio.Queue[dict[str, Any] | None]
) -> None:
    async for event in bus.subscribe(execution_id, after=after):
        into.put_nowait(event_to_dict(event))
    into.put_nowait(None)


class _Cursor:
    """How far a watcher has got: drops events it has passed on, notes the final one."""

    def __init__(self, after: int) -> None:
        self.last = after
        self.ended = False
        self.parked = False

    def new(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events past the last one passed on; the watch ends if the last of them is
        final (an ``execution.waiting`` followed by more is not: it waited, and resumed;
        ``parked`` says that the last is one, whose execution may have resumed since)."""
        fresh = []
        for event in events:
            if event["seq"] <= self.last:
                continue
            self.last = event["seq"]
            fresh.append(event)
        if fresh:
            self.ended = fresh[-1]["type"] in FINAL_EVENT_TYPES
            self.parked = fresh[-1]["type"] in RESUMABLE_EVENT_TYPES
        return fresh
