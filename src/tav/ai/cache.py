"""The optional response cache: a stored answer to the very same request.

The key is the SHA-256 of the link (credential id and model), the messages and the
options that change an answer (temperature, max_tokens, json_schema, tools), in
canonical JSON. The credential id stands for the provider: two OpenAI-compatible
servers are two providers. Timeouts and streaming do not change an answer and are left
out. The host supplies the store (``tav.storage.ai_cache`` keeps it in the database);
without one, ``MemoryResponseCache`` keeps the most recent answers in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any, Protocol

from tav.nodes.ai import ChatRequest, ModelRef


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The stored response under ``key``, if any."""
        ...

    async def put(self, key: str, *, provider: str, model: str, response: bytes) -> None:
        """Store (or replace) the response under ``key``."""
        ...


def cache_key(ref: ModelRef, request: ChatRequest) -> str:
    material: dict[str, Any] = {
        "credential": ref.credential,
        "model": ref.model,
        "messages": request.messages,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "json_schema": request.json_schema,
        "tools": [tool.model_dump() for tool in request.tools],
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class MemoryResponseCache:
    """The ``max_entries`` most recently stored responses, in this process."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    async def put(self, key: str, *, provider: str, model: str, response: bytes) -> None:
        self._entries[key] = response
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
