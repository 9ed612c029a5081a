"""What the engine needs from its host, as protocols.

The engine reports through these and nothing else; the server, the CLI and the Celery
worker plug in their own implementations (SQL store, Redis bus, ...). In-memory ones
ship in ``tav.engine.memory`` and ``tav.engine.bus``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from tav.core.events import Event
from tav.core.results import ExecutionResult, NodeResult
from tav.core.workflow import Workflow
from tav.nodes.context import Credential


class EventSink(Protocol):
    def publish(self, event: Event) -> None:
        """Take ``event``; must not block."""


class EventBus(EventSink, Protocol):
    """Fans events out to any number of watchers, per execution, with replay."""

    def subscribe(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        """Events of one execution with ``seq > after``: first those already published, then
        live ones; ends after the execution's final event."""
        ...


class ExecutionStore(Protocol):
    """Receives results as they settle. Implementations must return quickly (buffer and
    write in the background), so that the engine never waits for a disk."""

    async def execution_started(self, result: ExecutionResult) -> None: ...

    async def node_settled(self, execution_id: str, result: NodeResult) -> None: ...

    async def execution_finished(self, result: ExecutionResult) -> None: ...


class WorkflowLoader(Protocol):
    """Finds the workflow a ``core.subworkflow`` or ``core.map`` node names."""

    async def load(self, ref: str, *, relative_to: str | None) -> tuple[Workflow, str]:
        """The workflow ``ref`` names and its canonical source (a path or a stored id).

        Raises ``NotFound`` or ``WorkflowInvalid``."""
        ...


class SecretProvider(Protocol):
    """Stored credentials for the nodes that use them, and redaction of their secrets."""

    async def reveal(self, credential_id: str) -> Credential:
        """The decrypted credential; raises ``NotFound`` when there is none."""
        ...

    def redact(self, text: str) -> str:
        """``text`` with every secret value this provider has revealed replaced."""
        ...


class SharedLimits(Protocol):
    """Places in limits that several processes share (queue mode: every worker counts in
    the one PostgreSQL database, ``tav.storage.limits.LimitHolds``). A place is taken
    under a key (``pool:http``) while fewer than its limit are; each is gone at its
    expiry, so none outlives a process that died holding it by more than a lease."""

    async def take(self, key: str, limit: int, *, for_s: float | None = None) -> str | None:
        """A place of ``key`` if fewer than ``limit`` are taken (its token), else ``None``.
        ``for_s``: the place goes by itself that many seconds from now (the start of a
        call within a rate window); ``None``: it is held until ``give_back`` (renewed by
        this process meanwhile)."""
        ...

    async def give_back(self, token: str) -> None: ...

    async def next_free_s(self, key: str) -> float:
        """Seconds until the first place of ``key`` that goes by itself does (0: none)."""
        ...

    async def hold_off(self, key: str, seconds: float) -> None:
        """Note that ``key`` may not be used for ``seconds`` from now (a Retry-After)."""
        ...

    async def held_off(self, key: str) -> float:
        """Seconds ``key`` is still held off by any process (0: it may be used)."""
        ...
