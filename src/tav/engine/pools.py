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
