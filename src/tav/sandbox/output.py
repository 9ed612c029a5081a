"""What the code prints: kept, passed to the node's log, counted against its limit.

Two ways in: ``log`` frames over the sandbox's channel (``print``, ``sys.stdout``,
``sys.stderr``: in order with the result) and the process's file descriptors 1 and 2 (a
child process's output; before the run, what a start that fails said).
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable

LOG_FLUSH_S = 0.1
LOG_FLUSH_BYTES = 16 * 1024
SAID_BYTES = 8192
"""What a process that did not start may say (bubblewrap's error), kept for the message."""


class Output:
    """What the process prints (stdout and stderr): kept for a start that fails, passed to
    a run's ``log`` a piece at least every ``LOG_FLUSH_S``, dropped afterwards."""

    def __init__(self) -> None:
        self.said = bytearray()
        self._log: Callable[[str], None] | None = None
        self._limit = 0
        self._over: Callable[[], None] = lambda: None
        self._total = 0
        self._pending: list[str] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._flush: asyncio.TimerHandle | None = None
        self._stopped = False

    def follow(self, log: Callable[[str], None], limit: int, over: Callable[[], None]) -> None:
        self._log, self._limit, self._over = log, limit, over

    def received(self, data: bytes) -> None:
        """Output of the process's file descriptors 1 and 2."""
        if self._stopped:
            return
        if self._log is None:
            if len(self.said) < SAID_BYTES:
                self.said += data[: SAID_BYTES - len(self.said)]
            return
        self.printed(self._decoder.decode(data), len(data))

    def charge(self, size: int) -> None:
        """``size`` bytes the code sent over its channel, printed or not."""
        self._total += size
        if self._total > self._limit and not self._stopped and self._log is not None:
            self.stop(flush=True)
            self._over()

    def printed(self, text: str, size: int | None = None) -> None:
        """Text the code printed, of ``size`` bytes (UTF-8), counted unless ``size`` is
        ``0`` (its frame was)."""
        if self._stopped or self._log is None:
            return
        if size is None:
            size = len(text.encode("utf-8", "surrogatepass"))
        self._total += size
        over = self._total > self._limit
        if over:
            keep = len(text) - (self._total - self._limit)
            text = text[: max(keep, 0)]
        self._pending.append(text.encode("utf-8", "replace").decode("utf-8"))
        if over:
            self.stop(flush=True)
            self._over()
        elif sum(map(len, self._pending)) >= LOG_FLUSH_BYTES:
            self.flush()
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(LOG_FLUSH_S, self.flush)

    def flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        text = "".join(self._pending)
        self._pending.clear()
        if text and self._log is not None:
            self._log(text)

    def stop(self, *, flush: bool) -> None:
        """The run is over: pass on what is pending (``flush``), then drop the rest."""
        if flush:
            self._pending.append(self._decoder.decode(b"", final=True))
            self.flush()
        elif self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._log, self._stopped = None, True
