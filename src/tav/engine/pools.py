"""Named resource pools: concurrency limits shared by every execution of one executor."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping

DEFAULT_LIMITS: Mapping[str, int] = {"http": 64, "llm": 8, "cpu": os.cpu_count() or 2}
DEFAULT_CUSTOM_LIMIT = 16


class Pools:
    """``async with pools.slot("http"): ...`` waits while the pool is full."""

    def __init__(
        self, limits: Mapping[str, int] | None = None, *, default_limit: int = DEFAULT_CUSTOM_LIMIT
    ) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.default_limit = default_limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, pool: str | None) -> AsyncIterator[None]:
        if pool is None:
            yield
            return
        semaphore = self._semaphores.get(pool)
        if semaphore is None:
            limit = self.limits.get(pool, self.default_limit)
            semaphore = self._semaphores[pool] = asyncio.Semaphore(limit)
        async with semaphore:
            yield
