"""The bounds of live co-editing (``TAV_COLLAB_*`` settings), and the rate each
connection may send at."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_message_bytes: int = 8 * 1024 * 1024
    """Largest message from a client: a whole draft sent back after a reconnection must
    fit, so about twice the largest workflow document."""
    max_messages_per_s: float = 200
    """Messages per second from one connection, sustained (bursts of as many again)."""
    max_bytes_per_s: int = 8 * 1024 * 1024
    """Bytes per second from one connection, sustained (bursts of one largest message)."""
    max_peers: int = 50
    """Connections to one room at once."""
    max_rooms: int = 100
    """Rooms open in one process at once (rooms nobody is in are unloaded first)."""
    send_queue: int = 2048
    """Messages waiting to go out to one client: past that it is too slow and is
    closed (it reconnects and syncs afresh)."""
    flush_s: float = 0.5
    """How long an update may wait in memory before it is written: what a crash loses."""
    compact_every: int = 200
    """Stored updates after which a room's draft is compacted into one snapshot."""
    idle_s: float = 30
    """How long a room nobody is in stays loaded (a reload of the page finds it there)."""
    recheck_s: float = 1.0
    """How often every connection's credentials are checked again, and every room's
    workflow (deleted, or saved by another process)."""


NO_CHANGE_COST = 0.1
"""What a message that changed nothing costs, in messages: some clients (pycrdt's
``Provider``) send back every update they are sent, and those must not use up their
budget while many people type."""


class Rate:
    """Two token buckets, of messages and of bytes: ``take`` is false once a connection
    sends faster than its limits allow for longer than a burst."""

    def __init__(self, limits: Limits) -> None:
        self.per_s = limits.max_messages_per_s
        self.bytes_per_s = float(limits.max_bytes_per_s)
        self.burst = max(limits.max_messages_per_s, 1.0)
        self.byte_burst = float(max(limits.max_message_bytes, limits.max_bytes_per_s))
        self.messages = self.burst
        self.bytes = self.byte_burst
        self.at = time.monotonic()

    def take(self, size: int, cost: float = 1.0) -> bool:
        """Charge one message of ``size`` bytes (that cost ``cost`` messages)."""
        now = time.monotonic()
        elapsed, self.at = now - self.at, now
        self.messages = min(self.burst, self.messages + elapsed * self.per_s) - cost
        self.bytes = min(self.byte_burst, self.bytes + elapsed * self.bytes_per_s) - size
        return self.messages >= 0 and self.bytes >= 0
