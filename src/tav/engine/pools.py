"""Named resource pools: concurrency limits shared by every execution of one executor.

``Pools`` counts in this process (an asyncio semaphore per pool): one process runs
everything, and a slot costs no more than a semaphore. ``SharedPools`` (queue mode) holds
each limit across every process that runs executions: a slot is a place in
``SharedLimits`` (counted in the database) as well as in this process's semaphore. The
``cpu`` pool stays per process there: it is about one machine's cores (the threads of
``ctx.to_thread``), which another machine's workers do not use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

from tav.core.errors import NodeError
from tav.engine.ports import SharedLimits

DEFAULT_LIMITS: Mapping[str, int] = {
    "http": 64,
    "llm": 8,
    "cpu": os.cpu_count() or 2,
    "code": os.cpu_count() or 2,  # code.python's sandboxes, each a process on this machine
}
DEFAULT_CUSTOM_LIMIT = 16
LOCAL_POOLS = frozenset({"cpu", "code"})
"""Pools that count per process even when limits are shared: a machine's cores."""
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.25

# One shared no-op context for nodes without a pool. (An @asynccontextmanager would cost an
# async generator per node, which shows in the per-node overhead.)
_NO_POOL: AbstractAsyncContextManager[Any] = contextlib.nullcontext()


class PoolUnavailable(NodeError):
    """A place in a pool could not be taken: the pool's own store failed (queue mode's
    places live in the database). Worth trying again."""

    type = "pool_unavailable"
    retryable = True


class Pools:
    """``async with pools.slot("http"): ...`` waits while the pool is full."""

    def __init__(
        self, limits: Mapping[str, int] | None = None, *, default_limit: int = DEFAULT_CUSTOM_LIMIT
    ) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.default_limit = default_limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def slot(self, pool: str | None) -> AbstractAsyncContextManager[Any]:
        if pool is None:
            return _NO_POOL
        semaphore = self._semaphores.get(pool)
        if semaphore is None:
            limit = self.limits.get(pool, self.default_limit)
            semaphore = self._semaphores[pool] = asyncio.Semaphore(limit)
        return semaphore

    def in_use(self, pool: str) -> int:
        """How many slots of ``pool`` are taken now."""
        semaphore = self._semaphores.get(pool)
        if semaphore is None:
            return 0
        return self.limits.get(pool, self.default_limit) - semaphore._value

    def set_limits(self, limits: Mapping[str, int], *, default_limit: int) -> None:
        """Change limits while executions run (runtime settings).

        A raised limit applies at once: the pool's semaphore is released by the difference,
        so nodes waiting for a slot start. A lowered limit gets a new semaphore: slots taken
        (or waited for) before the change count against the old limit until they are given
        back; every slot asked for afterwards counts against the new one, so until then more
        than the new limit may run. (Shrinking the old semaphore in place would need a task
        that takes slots away as they come back; ``in_use`` counts the new semaphore only.)
        """
        old = {pool: self.limits.get(pool, self.default_limit) for pool in self._semaphores}
        self.limits = {**DEFAULT_LIMITS, **limits}
        self.default_limit = default_limit
        for pool, semaphore in list(self._semaphores.items()):
            limit = self.limits.get(pool, default_limit)
            if limit > old[pool]:
                for _ in range(limit - old[pool]):
                    semaphore.release()
            elif limit < old[pool]:
                self._semaphores[pool] = asyncio.Semaphore(limit)


class SharedPools(Pools):
    """Pools whose limits hold across processes (queue mode), but for ``local`` ones.

    A slot is taken in this process's semaphore first (so a process never asks for more
    places than the limit), then as a place of ``pool:<name>`` in ``shared``; while a pool
    is full everywhere, its waiters ask again every 20 ms, backing off to 250 ms (no order
    among processes: whichever asks first after a slot is given back gets it)."""

    def __init__(
        self,
        limits: Mapping[str, int] | None = None,
        *,
        default_limit: int = DEFAULT_CUSTOM_LIMIT,
        shared: SharedLimits,
        local: Collection[str] = LOCAL_POOLS,
    ) -> None:
        super().__init__(limits, default_limit=default_limit)
        self.shared = shared
        self.local = frozenset(local)

    def slot(self, pool: str | None) -> AbstractAsyncContextManager[Any]:
        semaphore = super().slot(pool)
        if pool is None or pool in self.local:
            return semaphore
        return _SharedSlot(self, pool, semaphore)

    async def take(self, pool: str) -> str:
        """A place in ``pool`` across the processes, waiting while there is none."""
        pause = POLL_FIRST_S
        while True:
            limit = self.limits.get(pool, self.default_limit)
            token = await self.shared.take(f"pool:{pool}", limit)
            if token is not None:
                return token
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)


class _SharedSlot:
    """One slot of a shared pool: this process's semaphore, then the shared place."""

    __slots__ = ("_local", "_pool", "_pools", "_token")

    def __init__(
        self, pools: SharedPools, pool: str, local: AbstractAsyncContextManager[Any]
    ) -> None:
        self._pools = pools
        self._pool = pool
        self._local = local
        self._token: str | None = None

    async def __aenter__(self) -> None:
        await self._local.__aenter__()
        try:
            self._token = await self._pools.take(self._pool)
        except BaseException as exc:
            await self._local.__aexit__(None, None, None)
            if isinstance(exc, Exception):
                raise PoolUnavailable(
                    f"could not take a place in pool '{self._pool}': "
                    f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                ) from exc
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        try:
            if token is not None:
                await self._pools.shared.give_back(token)
        finally:
            await self._local.__aexit__(kind, error, traceback)
