"""Named resource pools: concurrency limits shared by every execution of one executor."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

DEFAULT_LIMITS: Mapping[str, int] = {"http": 64, "llm": 8, "cpu": os.cpu_count() or 2}
DEFAULT_CUSTOM_LIMIT = 16

# One shared no-op context for nodes without a pool. (An @asynccontextmanager would cost an
# async generator per node, which shows in the per-node overhead.)
_NO_POOL: AbstractAsyncContextManager[Any] = contextlib.nullcontext()


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
