"""What the rooms need from the rest of the server: a connection to each person in them
(``Channel``) with their credentials (``Credentials``), where drafts are kept
(``DraftStore``), the saved workflows (``SavedWorkflows``), and in queue mode the rooms of
the same workflows in the other API processes (``Relay``, heard through ``Hearing``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
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


class DraftStore(Protocol):
    """The drafts, kept in the database (``tav.storage.collab``). Several processes may
    keep one draft at once: appends commute, and every write that replaces anything is
    made safe against the others by the store."""

    async def load(self, workflow_id: str) -> StoredDraft | None: ...

    async def fetch(self, workflow_id: str, row_id: int) -> bytes | None:
        """Update ``row_id``; ``None`` once it was folded into the snapshot."""
        ...

    async def create(self, workflow_id: str, snapshot: bytes, base_version: int) -> bool:
        """Start the draft from ``snapshot``; ``False`` when it has one already.
        ``NotFound`` when the workflow is gone."""
        ...

    async def append(self, workflow_id: str, update: bytes) -> int:
        """Keep one update (and, with a relay, tell the other processes of it once it is
        kept); returns its id. ``tav.core.errors.NotFound`` when the workflow is gone."""
        ...

    async def take(self, workflow_id: str, update: bytes | None, version: int) -> bool:
        """Keep ``update``, the draft becoming saved version ``version``, and make that its
        base, unless its base is ``version`` or newer already (another process took it
        in, or saved it): then nothing is written and ``False`` returned."""
        ...

    def saving(self, workflow_id: str) -> AbstractAsyncContextManager[None]:
        """Held while the draft is saved as a version: no process ``take``s one in
        meanwhile."""
        ...

    async def compact(self, workflow_id: str, fold: Callable[[Sequence[bytes]], bytes]) -> None:
        """Replace the snapshot and the updates kept so far by ``fold([snapshot,
        *updates])``. ``NotFound`` when the workflow is gone."""
        ...

    async def set_base(self, workflow_id: str, base_version: int) -> None:
        """The draft took in saved version ``base_version`` (a base never moves back)."""
        ...


class Hearing(Protocol):
    """What a room hears from the rooms of its workflow in other processes (queue mode).
    What it hears was checked by the process that took it from its client."""

    def update(self, row_id: int, update: bytes | None) -> None:
        """Another process kept update ``row_id``; ``None``: too large to carry, read it
        from the store (``DraftStore.fetch``)."""
        ...

    def awareness(self, update: bytes) -> None:
        """An awareness update of the people in another process's room."""
        ...

    def query(self) -> None:
        """A room opened in another process: it wants everyone's awareness."""
        ...

    def lost(self) -> None:
        """The relay was interrupted: what it carried meanwhile is to be read from the
        store."""
        ...


class Relay(Protocol):
    """The rooms of one workflow in several API processes, in touch (queue mode:
    ``tav.storage.collab_relay``). The updates a room keeps reach the others through
    ``DraftStore.append`` and ``take``, in the transaction that keeps them."""

    async def join(self, workflow_id: str, hearing: Hearing) -> None:
        """Hear what the other processes' rooms of ``workflow_id`` relay, from the moment
        this returns: a room joins before it reads its draft, so it misses nothing."""
        ...

    async def leave(self, workflow_id: str, hearing: Hearing) -> None:
        """Stop ``hearing`` (a room of the workflow opened since keeps hearing)."""
        ...

    async def awareness(self, workflow_id: str, update: bytes) -> None:
        """Tell the others an awareness update of this process's people (never raises:
        presence is not kept, and a lost one is sent again by its client)."""
        ...

    async def query(self, workflow_id: str) -> None:
        """Ask the others for the awareness of their people (never raises)."""
        ...

    async def aclose(self) -> None: ...


class SavedWorkflow(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def document(self) -> dict[str, Any]: ...


class SavedWorkflows(Protocol):
    """The saved workflows (``tav.storage.workflows.WorkflowRepository``)."""

    async def get(self, workflow_id: str) -> SavedWorkflow | None: ...
