"""The optional response cache: a stored answer to the very same request.

The key is the SHA-256 of the link (credential id and model), the messages and the
options that change an answer (temperature, max_tokens, json_schema, tools), in
canonical JSON. The credential id stands for the provider: two OpenAI-compatible
servers are two providers. Timeouts and streaming do not change an answer and are left
out. The host supplies the store (``tav.storage.ai_cache`` keeps it in the database);
without one, ``MemoryResponseCache`` keeps the most recent answers in memory.

Secrets never reach the cache (``Redaction``: the host's vault). A request whose
messages, schema or tools hold a stored secret is neither looked up nor stored: its key
would be a hash an attacker could test guessed secrets against, and its answer likely
repeats the secret. An answer is stored redacted, so the cache never holds more than the
execution that asked showed; a hit is redacted again (a secret stored since) and passes
through the execution's redaction like a fresh answer.
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


class Redaction(Protocol):
    """The host's knowledge of stored secrets (``tav.credentials.Vault``)."""

    def redact(self, text: str) -> str:
        """``text`` with every stored secret replaced by ``***``."""
        ...

    def pending(self, text: str) -> int:
        """How many characters at the end of ``text`` may begin a secret."""
        ...


class NoRedaction:
    """A host that keeps no secrets."""

    def redact(self, text: str) -> str:
        return text

    def pending(self, text: str) -> int:
        return 0


def cache_key(ref: ModelRef, request: ChatRequest) -> str:
    material = {"credential": ref.credential, "model": ref.model, **request_material(request)}
    return hashlib.sha256(_canonical(material).encode()).hexdigest()


def request_material(request: ChatRequest) -> dict[str, Any]:
    """What of a request changes its answer (the key, less the link)."""
    return {
        "messages": request.messages,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "json_schema": request.json_schema,
        "tools": [tool.model_dump() for tool in request.tools],
    }


def holds_secret(request: ChatRequest, redaction: Redaction) -> bool:
    """Whether the request's messages, schema or tools contain a stored secret."""
    text = _canonical(request_material(request))
    return redaction.redact(text) != text


def _canonical(material: dict[str, Any]) -> str:
    return json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)


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
