"""Time for triggers: the system clock, and a manual one that tests move by hand.

Schedules and pollers ask the clock for the time and sleep through it, never through
``asyncio.sleep`` or ``datetime.now`` directly, so a test drives a day of schedule in
milliseconds and without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol

MAX_NAP_S = 60.0
"""The system clock wakes at least this often while sleeping until a time, so that a
changed wall clock (NTP, a suspended laptop) delays a slot by at most this much."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The time now, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime) -> None: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        while True:
            left = (when - self.now()).total_seconds()
            if left <= 0:
                return
            await asyncio.sleep(min(left, MAX_NAP_S))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that stands still until ``advance`` moves it; sleepers wake in time order."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        waker = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), waker))
        await waker

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=seconds))

    async def advance(self, seconds: float = 0, *, to: datetime | None = None) -> None:
        """Move the time forward, waking each sleeper at its time and letting it run
        (until it sleeps again or waits for something else) before moving on."""
        target = to or self._now + timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, waker = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not waker.done():
                waker.set_result(None)
            await settle()
        self._now = max(self._now, target)
        await settle()

    @property
    def sleepers(self) -> int:
        return sum(1 for *_, waker in self._sleepers if not waker.done())


async def settle(turns: int = 20) -> None:
    """Let the event loop run what is ready for a few turns."""
    for _ in range(turns):
        await asyncio.sleep(0)
