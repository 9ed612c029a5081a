"""A small in-process read cache with a time to live, for rows read on every request.

Repositories keep what they read often (verified API keys, global variables, stored
workflows) for ``ttl_s`` seconds and drop it the moment they change it themselves. The
time to live bounds how long a change made by *another* process (``tav api-keys delete``, a
second server on the same PostgreSQL database) goes unseen.

A read that started before an invalidation must not put its older value back afterwards:
``generation()`` is taken before the read and ``put`` ignores values read under an older
generation.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Up to ``max_size`` entries, each kept ``ttl_s`` seconds; ``ttl_s <= 0`` keeps none."""

    def __init__(self, ttl_s: float, *, max_size: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._generation = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if time.monotonic() >= expires:
            del self._entries[key]
            return None
        return value

    def generation(self) -> int:
        return self._generation

    def put(self, key: K, value: V, generation: int) -> None:
        if self.ttl_s <= 0 or generation != self._generation:
            return
        self._entries[key] = (time.monotonic() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def invalidate(self, key: K | None = None) -> None:
        """Drop ``key`` (everything when ``None``); reads in flight are not cached."""
        self._generation += 1
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def invalidate_where(self, matches: Callable[[V], bool]) -> None:
        self._generation += 1
        for key in [k for k, (_, value) in self._entries.items() if matches(value)]:
            del self._entries[key]
