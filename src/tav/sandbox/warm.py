"""Sandboxes started ahead of need: a run takes one that is ready, in about a millisecond.

Starting bubblewrap and an interpreter that has imported what a job needs takes some
10 ms of CPU; a pool keeps ``size`` of them ready and starts a replacement for each one
taken once its run has ended (not to take CPU from it), so the start is off a run's
path. Every sandbox serves one job and is gone: two runs never share a process, a
``/tmp`` or anything else.

A run that finds none ready waits for the first one started, whoever started it; starts
stay ahead of the runs waiting by ``size``. A start that fails is handed, as its error,
to the run that would have had it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tav.sandbox.process import Sandbox

logger = logging.getLogger("tav.sandbox")


class WarmPool:
    """``await pool.take()``: a ready sandbox, for one job."""

    def __init__(self, start: Callable[[], Awaitable[Sandbox]], size: int) -> None:
        self._start = start
        self._size = size
        self._ready: asyncio.Queue[Sandbox | BaseException] = asyncio.Queue()
        self._starting = 0
        self._waiting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def ready(self) -> int:
        return self._ready.qsize()

    async def take(self) -> Sandbox:
        """A ready sandbox; raises what made the start of the one it waited for fail."""
        self._waiting += 1
        try:
            while True:
                self._refill()
                found = await self._ready.get()
                if isinstance(found, BaseException):
                    raise found
                if found.alive:
                    return found
                found.kill()  # died while it waited (killed from outside): take another
        finally:
            self._waiting -= 1

    def replenish(self) -> None:
        """Start replacements for the sandboxes taken: called once a run has ended, so
        that starting them does not take CPU from it."""
        self._refill()

    def _refill(self) -> None:
        wanted = self._waiting + self._size - self._ready.qsize() - self._starting
        for _ in range(wanted if not self._closed else 0):
            self._starting += 1
            task = asyncio.create_task(self._warm())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _warm(self) -> None:
        try:
            sandbox = await self._start()
        except Exception as exc:
            logger.debug("a sandbox did not start: %s", exc)
            self._starting -= 1
            if self._waiting > 0:
                self._ready.put_nowait(exc)
            return
        self._starting -= 1
        if self._closed:
            sandbox.kill()
        else:
            self._ready.put_nowait(sandbox)

    async def aclose(self) -> None:
        """Kill the sandboxes ready and starting."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        ready = []
        while not self._ready.empty():
            found = self._ready.get_nowait()
            if isinstance(found, Sandbox):
                ready.append(found)
        await asyncio.gather(*(sandbox.aclose() for sandbox in ready))
