"""What the trigger manager needs from its host, as protocols.

The server plugs in its workflow repository, its trigger state repository, its credential
service, its file store and a launcher that starts executions; tests plug in their own.
Nothing here knows of SQL, HTTP or the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tav.core.modes import ExecutionMode
from tav.nodes.context import Credential


class TriggeredWorkflow(Protocol):
    """A stored workflow at one version."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def active(self) -> bool: ...
    @property
    def document(self) -> dict[str, Any]: ...


class WorkflowSource(Protocol):
    """The stored workflows and their ``active`` flags."""

    async def get(self, workflow_id: str) -> TriggeredWorkflow | None: ...

    async def active_versions(self) -> Mapping[str, int]:
        """The id and current version of every active workflow (one cheap query)."""
        ...

    async def active_workflows(
        self, ids: Sequence[str] | None = None
    ) -> Sequence[TriggeredWorkflow]:
        """The active workflows (of ``ids``), read from the database, not a cache."""
        ...

    async def set_active(self, workflow_id: str, active: bool) -> TriggeredWorkflow | None: ...


class RunHandle(Protocol):
    """An execution, running here or (queue mode) queued for a worker."""

    @property
    def execution_id(self) -> str: ...


class Started(Protocol):
    """An execution a trigger started."""

    @property
    def handle(self) -> RunHandle: ...
    @property
    def recorded(self) -> asyncio.Future[None]:
        """Done once the execution is committed to the database."""
        ...


class Launcher(Protocol):
    """Starts executions of stored workflows."""

    async def launch(
        self,
        workflow: TriggeredWorkflow,
        payload: Any,
        *,
        mode: ExecutionMode,
        skip: frozenset[str],
    ) -> Started:
        """Start ``workflow`` with ``payload`` as its trigger payload; ``skip`` are the
        trigger nodes that did not fire. Raises ``Unavailable`` when shutting down."""
        ...


class StateStore(Protocol):
    """Small JSON values an active trigger keeps across restarts, by workflow, node and
    key. Deleted with the workflow."""

    async def get(self, workflow_id: str, node_id: str, key: str) -> Any: ...

    async def swap(self, workflow_id: str, node_id: str, key: str, expected: Any, new: Any) -> bool:
        """Set the value to ``new`` only if it is ``expected`` (``None``: there is none);
        ``False`` if someone changed it first. Atomic, also across processes."""
        ...


class Credentials(Protocol):
    async def reveal(self, credential_id: str) -> Credential:
        """The decrypted credential; raises ``NotFound`` when there is none."""
        ...


class ReceivedFiles(Protocol):
    """Where triggers keep what arrives too large to travel inline: the host's file store,
    so it gets a ``files`` row, a download URL and the store's retention."""

    async def receive(
        self, data: bytes, *, name: str, mime_type: str | None, via: str
    ) -> dict[str, Any]:
        """Store ``data`` as a file received by ``via`` (``email``); returns its MediaFormat
        value (``uri`` ``file:<id>``, ``metadata.url`` where to download it)."""
        ...


class LeaderLock(Protocol):
    """A lock at most one process of a deployment holds at a time, and which a process
    loses when it dies (``tav.storage.leadership.AdvisoryLock``)."""

    name: str
    """This process's name, as ``holder`` shows it."""

    async def acquire(self) -> bool:
        """Take the lock if it is free; ``True`` if this process holds it now."""
        ...

    async def lost(self) -> None:
        """Return once this process no longer holds the lock it acquired."""
        ...

    async def release(self) -> None: ...

    async def holder(self) -> str | None:
        """The name of the process holding the lock, ``None`` if none does."""
        ...
