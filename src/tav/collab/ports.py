"""What the rooms need from the rest of the server: a connection to each person in them
(``Channel``) with their credentials (``Credentials``), where drafts are kept
(``DraftStore``), and the saved workflows (``SavedWorkflows``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class RoomBroken(Exception):
    """The Y.Doc failed while taking an update (a panic in its Rust core): it may be
    inconsistent, so the room is dropped and loaded again from what was stored."""


class Closed(Exception):
    """The connection ended (the client left, or it was closed)."""


class Channel(Protocol):
    """One person's WebSocket, as the API hands it over once it is accepted."""

    async def recv(self) -> bytes:
        """The next binary message; ``Closed`` once the connection has ended,
        ``tav.collab.protocol.Malformed`` for a text message."""
        ...

    async def send(self, message: bytes) -> None:
        """Send one binary message; ``Closed`` if the connection has ended."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` (``tav.collab.protocol.CloseCode``)."""
        ...


@dataclass(frozen=True, slots=True)
class Access:
    """Who a connection is, and whether they may change the draft."""

    user_id: str | None
    can_edit: bool
    name: str = ""
    """How the others see them (the user's email): set by the server on every awareness
    state the connection sends, with ``user_id``, so that nobody can appear as another."""


class Credentials(Protocol):
    """The credentials a connection was opened with, checked again about once a second."""

    @property
    def key(self) -> str:
        """Equal for equal credentials: each is checked once per round, however many
        connections use it."""
        ...

    async def check(self) -> Access | None:
        """Who they open now; ``None`` when they open nothing any more."""
        ...


class StoredDraft(Protocol):
    """A draft as it was kept: a snapshot and the updates written since, oldest first."""

    @property
    def base_version(self) -> int:
        """The saved version the draft started from or last took in."""
        ...

    @property
    def snapshot(self) -> bytes | None: ...

    @property
    def updates(self) -> Sequence[bytes]: ...

    @property
    def last_id(self) -> int | None:
        """The id of the newest update (compacting removes those up to it)."""
        ...


class DraftStore(Protocol):
    """The drafts, kept in the database (``tav.storage.collab``)."""

    async def load(self, workflow_id: str) -> StoredDraft | None: ...

    async def append(self, workflow_id: str, update: bytes) -> int:
        """Keep one update; returns its id. ``tav.core.errors.NotFound`` when the workflow
        is gone."""
        ...

    async def compact(
        self, workflow_id: str, snapshot: bytes, base_version: int, through: int | None
    ) -> None:
        """Replace the snapshot, and the updates up to id ``through``, by ``snapshot``
        (which holds them all); creates the draft when there is none. ``NotFound`` when
        the workflow is gone."""
        ...

    async def set_base(self, workflow_id: str, base_version: int) -> None:
        """The draft took in saved version ``base_version``."""
        ...


class SavedWorkflow(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def document(self) -> dict[str, Any]: ...


class SavedWorkflows(Protocol):
    """The saved workflows (``tav.storage.workflows.WorkflowRepository``)."""

    async def get(self, workflow_id: str) -> SavedWorkflow | None: ...
