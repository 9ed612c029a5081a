"""Tokens to ``node.progress`` events, coalesced.

A model streams a token every few milliseconds; one event each would flood the event
store and every SSE watcher. Tokens arriving within ``interval_s`` (50 ms) of the first
unsent one go out together as ``{"token": "<text>"}``, so a watcher sees at most ~20
events a second and no token waits longer than ``interval_s``.

When a link fails after it had streamed some tokens and the chain falls back, a
``{"discard": true}`` event tells watchers to drop the text they received so far.

With the host's ``redaction`` (its vault), a batch is redacted, and what is left at its
end that may be the start of a secret (``Redaction.pending``) waits for the next batch:
a secret the model streams in pieces is redacted whole rather than sent in two parts
that no redaction would recognise. Redacting before holding back matters: a complete
secret whose last character could begin another one must not be cut there. The last
flush sends everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tav.ai.cache import Redaction

INTERVAL_S = 0.05

Emit = Callable[[dict[str, Any]], None]


class TokenBatcher:
    def __init__(
        self, emit: Emit, interval_s: float = INTERVAL_S, *, redaction: Redaction | None = None
    ) -> None:
        self._emit = emit
        self._interval_s = interval_s
        self._redaction = redaction
        self._buffer: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self.sent = 0
        """Characters sent so far."""

    def add(self, text: str) -> None:
        if not text:
            return
        self._buffer.append(text)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._tick)

    def flush(self) -> None:
        """Send everything unsent (the stream has ended)."""
        self._send(final=True)

    def _tick(self) -> None:
        self._send(final=False)

    def _send(self, *, final: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        text = "".join(self._buffer)
        held = 0
        if self._redaction is not None:
            text = self._redaction.redact(text)
            held = 0 if final else self._redaction.pending(text)
        self._buffer[:] = [text[len(text) - held :]] if held else []
        if text := text[: len(text) - held]:
            self.sent += len(text)
            self._emit({"token": text})

    def close(self) -> None:
        """Stop without sending what is left (the node was cancelled)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._buffer.clear()

    def discard(self) -> None:
        """Forget unsent tokens; tell watchers to drop the ones sent."""
        self.close()
        if self.sent:
            self.sent = 0
            self._emit({"discard": True})
