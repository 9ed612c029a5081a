"""One workflow's live draft: its Y.Doc, the people in it, and the updates on their way to
the database.

The server holds the canonical copy. Every update a client sends is checked whole, applied
to the room's Y.Doc, and only then relayed: what reaches the others is what the doc took
(the doc's own update event), never the client's bytes. Awareness (who is here, where
their cursor is) is checked, taken into the room's ``pycrdt.Awareness`` and relayed the
same way; when a connection ends, its clients' awareness is removed for everyone at once
rather than after the 30 s awareness timeout.

Each client gets its messages through a queue of its own, drained by its own task: a slow
client never holds up the others, and one that falls ``send_queue`` messages behind is
closed (``TOO_SLOW``) rather than buffered without end. A viewer's updates are refused
(``permission_denied``): neither applied nor relayed.

Updates are written in batches (``flush``) at most ``flush_s`` after they happened, merged
into one row; every ``compact_every`` rows the room folds the stored snapshot and rows into
one snapshot (``compact``).

In queue mode a room of the same workflow may be open in other API processes too, linked
through the database (``link``: ``tav.collab.relayed``). Then each batch is written at once
rather than after ``flush_s``, and the store tells the others of it as it commits it; what
the others kept reaches this room (``hear_update``) and is applied to its doc like a
client's update, but as already checked and already kept: it is sent to this room's people
and neither written nor relayed again. Awareness goes both ways the same way
(``hear_awareness``); the presence of people in another process expires 30 s after they
last renewed it (as y-protocols' clients do), should that process die.

Why not pycrdt-websocket's ``YRoom``: it relays a client's awareness message before
looking at it, lets a hook skip messages without knowing who sent them (no read-only
viewers), starts a task per message per client (a stalled client grows memory without
bound), keeps updates in a store of its own, and has no way to close a connection with a
reason. What it does beyond that is the y-protocols handling, which ``tav.collab.protocol``
and pycrdt's ``Doc`` and ``Awareness`` do here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pycrdt import Awareness, Doc, TransactionEvent, get_update, merge_updates

from tav.collab import protocol
from tav.collab.limits import Limits, Rate
from tav.collab.long_text import LongText
from tav.collab.ports import Access, Channel, Credentials, DraftStore, RoomBroken
from tav.collab.protocol import CloseCode, Malformed, SyncStep
from tav.collab.ydoc import read_document, roots, wrap_plain_values, write_document
from tav.core.errors import NotFound

if TYPE_CHECKING:
    from tav.collab.relayed import RoomLink

logger = logging.getLogger("tav.collab")
EMPTY_UPDATE = b"\x00\x00"
READ_ONLY = "read-only: your role cannot change this workflow"
MAX_REASON_BYTES = 120
"""A close frame's reason holds at most 123 bytes."""
FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)
RELAYED = "relayed"
"""The origin of awareness heard from another process."""
AWARENESS_TIMEOUT_MS = 30_000
"""Presence not renewed this long is gone (y-protocols' ``outdatedTimeout``)."""


class Peer:
    """One connection to a room."""

    def __init__(self, channel: Channel, credentials: Credentials, access: Access, limits: Limits):
        self.channel = channel
        self.credentials = credentials
        self.access = access
        self.rate = Rate(limits)
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue(limits.send_queue)
        self.clients: set[int] = set()
        """The awareness client ids this connection spoke for."""
        self.closing = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""

    def send(self, message: bytes) -> None:
        """Queue ``message``; a client too far behind is closed instead."""
        if self.closing.is_set():
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.close(CloseCode.TOO_SLOW, "too far behind: reconnect")

    def close(self, code: int, reason: str) -> None:
        """Ask for the connection to be closed with ``code`` (the first reason wins)."""
        if not self.closing.is_set():
            self.close_code = code
            self.close_reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
            self.closing.set()

    async def write(self) -> None:
        """Send what is queued, until the connection ends."""
        while True:
            message = await self.outbox.get()
            await self.channel.send(message)


class Room:
    def __init__(
        self,
        workflow_id: str,
        doc: Doc[Any],
        *,
        base_version: int,
        like: Mapping[str, Any],
        store: DraftStore,
        long_text: LongText,
        limits: Limits,
        link: RoomLink | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.doc = doc
        self.base_version = base_version
        """The saved version the draft last took in."""
        self.like = like
        """The document whose order of nodes and edges the draft keeps."""
        self.store = store
        self.long_text = long_text
        self.limits = limits
        self.peers: set[Peer] = set()
        self.lock = asyncio.Lock()
        """Held while the draft is saved or takes in a saved version."""
        self.closed = False
        self.gone = False
        """The workflow was deleted: nothing more is written."""
        self.link = link
        """The rooms of this workflow in other processes (queue mode)."""
        self.remote: set[int] = set()
        """The awareness client ids heard from other processes."""
        self._kept = False
        """Set while the doc applies an update that is kept already (heard, or taken)."""
        self._pending: list[bytes] = []
        self._dirty = asyncio.Event()
        self._written = 0
        self._flushing = asyncio.Lock()
        self._sender: Peer | None = None
        self._changes = 0
        """Changes the room took (of its doc, or awareness): a message that made none is
        cheap, and a client is charged less for it."""
        roots(doc)  # the top-level types exist with their kinds before any client speaks
        self.awareness = Awareness(doc)
        self.awareness.set_local_state(None)  # the server is not a person in the room
        self.awareness.observe(self._awareness_changed)
        self._subscription = doc.observe(self._doc_changed)
        self._flusher = asyncio.ensure_future(self._flush_forever())

    # -- people ---------------------------------------------------------------------------

    @property
    def full(self) -> bool:
        return len(self.peers) >= self.limits.max_peers

    def join(self, peer: Peer) -> None:
        """Add ``peer``: it is sent the room's state vector (it answers with what the room
        lacks) and everyone's awareness."""
        self.peers.add(peer)
        peer.send(protocol.sync_step1(self.doc.get_state()))
        states = list(self.awareness.states)
        if states:
            peer.send(protocol.awareness(self.awareness.encode_awareness_update(states)))

    def leave(self, peer: Peer) -> None:
        self.peers.discard(peer)
        if peer.clients and not self.closed:
            self.awareness.remove_awareness_states(sorted(peer.clients), peer)

    def receive(self, peer: Peer, message: bytes) -> bool:
        """Take one message from ``peer``; false when it changed nothing (an update the
        room had, which some clients send back). ``Malformed`` if it is not one the room
        can take (nothing of it was applied or relayed), ``RoomBroken`` if the doc failed
        on it."""
        parsed = protocol.parse(message)
        changes = self._changes
        if isinstance(parsed, protocol.Sync):
            if parsed.step == SyncStep.STEP1:
                self._answer(peer, parsed.payload)
                return True
            self._sync(peer, parsed)
        elif isinstance(parsed, protocol.Awareness):
            self._take_awareness(peer, parsed)
        else:
            states = list(self.awareness.states)
            peer.send(protocol.awareness(self.awareness.encode_awareness_update(states)))
            return True
        return self._changes != changes

    def _answer(self, peer: Peer, state_vector: bytes) -> None:
        try:
            peer.send(protocol.sync_step2(self.doc.get_update(state_vector)))
        except ValueError:
            raise Malformed("the state vector does not decode") from None

    def _sync(self, peer: Peer, message: protocol.Sync) -> None:
        if message.payload == EMPTY_UPDATE:
            return
        if not peer.access.can_edit:
            self._refuse(peer, message)
            return
        self._sender = peer
        try:
            self._apply(message.payload)
        finally:
            self._sender = None

    def _refuse(self, peer: Peer, message: protocol.Sync) -> None:
        """A viewer's update: not applied, not relayed; it is told so when the update
        would have changed anything. (A viewer's client answers the room's state vector
        on every connection, and some clients send back what they were sent.)"""
        if self._brings_news(message.payload):
            self._changes += 1  # as costly as a change
            peer.send(protocol.permission_denied(READ_ONLY))

    def _brings_news(self, update: bytes) -> bool:
        """Whether ``update`` would change the doc: tried on a copy of it."""
        copy: Doc[Any] = Doc()
        copy.apply_update(self.doc.get_update())
        changes: list[bytes] = []
        copy.observe(lambda event: changes.append(event.update))
        try:
            copy.apply_update(update)
        except BaseException as exc:
            if isinstance(exc, FATAL):
                raise
            raise Malformed("the update does not decode") from None
        return any(change != EMPTY_UPDATE for change in changes)

    def _take_awareness(self, peer: Peer, message: protocol.Awareness) -> None:
        """Take what ``peer`` says of its own clients, as who it is: each state's ``user``
        gets the connection's user id and name, whatever the client wrote there. What it
        says of a client another connection speaks for is left out: y-websocket's provider
        sends on the states it heard from the others too, as they were."""
        others = {client for other in self.peers if other is not peer for client in other.clients}
        others |= self.remote
        identity = {"id": peer.access.user_id or "", "name": peer.access.name}
        states = [
            (client, clock, _as(state, identity) if state is not None else None)
            for client, clock, state in message.states
            if client not in others
        ]
        if not states:
            return
        try:
            self.awareness.apply_awareness_update(protocol.awareness_update(states), peer)
        except (ValueError, KeyError, IndexError, TypeError) as exc:  # checked already
            raise Malformed(f"the awareness update does not apply: {exc}") from None

    # -- relaying -------------------------------------------------------------------------

    def _doc_changed(self, event: TransactionEvent) -> None:
        update = event.update
        if update == EMPTY_UPDATE:
            return
        self._changes += 1
        if not self._kept:
            self._pending.append(update)
            self._dirty.set()
        message = protocol.sync_update(update)
        for peer in self.peers:
            if peer is not self._sender:
                peer.send(message)

    def _awareness_changed(self, topic: str, change: tuple[dict[str, Any], Any]) -> None:
        if topic != "update":
            return
        changes, origin = change
        self._changes += 1
        speakers: set[int] | None = None
        if origin == RELAYED:
            speakers = self.remote
        elif isinstance(origin, Peer):
            speakers = origin.clients
        if speakers is not None:
            speakers.update(changes["added"], changes["updated"])
            speakers.difference_update(changes["removed"])
        clients = [*changes["added"], *changes["updated"], *changes["removed"]]
        if not clients:
            return
        if self.link is not None and origin != RELAYED:
            self.link.tell(clients)
        if self.closed:
            return
        message = protocol.awareness(self.awareness.encode_awareness_update(clients))
        for peer in self.peers:
            peer.send(message)

    # -- what the other processes' rooms relay --------------------------------------------

    def hear_update(self, update: bytes) -> None:
        """Apply an update another process kept (checked there): this room's people get
        it; it is not kept or relayed again. ``Malformed``, ``RoomBroken``."""
        if self.closed:
            return
        self._apply_kept(update)

    def hear_awareness(self, update: bytes) -> None:
        """Take an awareness update of another process's people."""
        if self.closed:
            return
        try:
            self.awareness.apply_awareness_update(update, RELAYED)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise Malformed(f"a relayed awareness update does not apply: {exc}") from None

    def local_clients(self) -> list[int]:
        """The awareness client ids this process's people speak for."""
        return sorted({client for peer in self.peers for client in peer.clients})

    def expire_remote(self) -> None:
        """Forget the presence of people in other processes not renewed for 30 s (their
        process may have died without saying they left)."""
        now = time.time() * 1000
        meta = self.awareness.meta
        stale = [
            client
            for client in self.remote
            if now - meta.get(client, {}).get("lastUpdated", 0) >= AWARENESS_TIMEOUT_MS
        ]
        if stale:
            self.remote.difference_update(stale)
            self.awareness.remove_awareness_states(stale, RELAYED)

    def _apply_kept(self, update: bytes) -> None:
        self._kept = True
        try:
            self._apply(update)
        finally:
            self._kept = False

    def _apply(self, update: bytes) -> None:
        """Apply ``update`` to the doc: ``Malformed`` if it does not decode, ``RoomBroken``
        if the doc failed on it (what a peer sent and what another process kept alike)."""
        try:
            self.doc.apply_update(update)
        except ValueError as exc:
            raise Malformed(f"the update does not decode: {exc}") from None
        except BaseException as exc:
            if isinstance(exc, FATAL):
                raise
            raise RoomBroken(f"{type(exc).__name__}: {exc}") from exc

    # -- the draft ------------------------------------------------------------------------

    def draft(self) -> dict[str, Any]:
        """The draft as a workflow document (not validated)."""
        return read_document(self.doc, like=self.like)

    def wrap_plain_values(self) -> None:
        """A draft written before objects and arrays were kept as JSON text gets them so, in
        the order of the saved version (``tav.collab.ydoc.wrap_plain_values``): one change,
        kept and sent as any other; none when there is nothing to wrap."""
        wrap_plain_values(self.doc, self.like)

    async def take_saved(self, document: Mapping[str, Any], version: int) -> None:
        """A version was saved from outside the draft (a REST save, a restore, another
        process): the draft becomes it, as one change everyone sees, unless another
        process took it in already (it reaches this room from there) or saved it from the
        draft. Call with ``lock``."""
        change = self._change_to(document)
        async with self._flushing:
            await self._write_pending()  # what people typed before it goes first
            taken = not self.gone and await self.store.take(self.workflow_id, change, version)
        if taken and change is not None:
            self._apply_kept(change)
        self.base_version = max(self.base_version, version)
        self.like = document

    def _change_to(self, document: Mapping[str, Any]) -> bytes | None:
        """The update that makes the doc hold ``document``, made on a copy of it (the doc
        itself takes it once it is kept); ``None`` when nothing differs."""
        copy: Doc[Any] = Doc()
        copy.apply_update(self.doc.get_update())
        changes: list[bytes] = []
        copy.observe(lambda event: changes.append(event.update))
        write_document(copy, document, self.long_text)
        changes = [change for change in changes if change != EMPTY_UPDATE]
        return merge_updates(*changes) if changes else None

    async def saved_as(self, version: int, document: Mapping[str, Any]) -> None:
        """The draft was saved as ``version`` (``document``). Call with ``lock``."""
        self.base_version = version
        self.like = document
        if not self.gone:
            await self.store.set_base(self.workflow_id, version)

    # -- keeping it -----------------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while True:
            await self._dirty.wait()
            if self.link is None:  # linked, a change is kept before the others hear of it
                await asyncio.sleep(self.limits.flush_s)  # let a burst of typing make one row
            try:
                await self.flush()
            except NotFound:
                self.gone = True
                return
            except Exception:  # the database is away: keep the updates, try again later
                logger.exception("cannot store the draft of workflow %s", self.workflow_id)
                await asyncio.sleep(1)

    async def flush(self) -> None:
        """Write the updates not written yet, as one row; compact once there are enough.
        ``NotFound`` when the workflow is gone."""
        async with self._flushing:
            await self._write_pending()
            if self._written >= self.limits.compact_every:
                await self._compact()

    async def _write_pending(self) -> None:
        if self.gone or not self._pending:
            self._dirty.clear()
            return
        batch, self._pending = self._pending, []
        self._dirty.clear()
        try:
            await self.store.append(self.workflow_id, merge_updates(*batch))
        except BaseException:
            self._pending[:0] = batch
            self._dirty.set()
            raise
        self._written += 1

    async def compact(self) -> None:
        """Write what is pending, then fold the stored snapshot and updates into one
        snapshot."""
        async with self._flushing:
            await self._write_pending()
            await self._compact()

    async def _compact(self) -> None:
        if self.gone:
            return
        await self.store.compact(self.workflow_id, fold)
        self._written = 0

    async def close(
        self, code: int, reason: str, *, keep: bool = True, snapshot: bool = True
    ) -> None:
        """Close every connection with ``code``; ``keep``: write what is pending first,
        then (``snapshot``) compact."""
        if self.link is not None:  # the others see this room's people leave
            local = self.local_clients()
            if local and not self.closed:
                self.awareness.remove_awareness_states(local, None)
        self.closed = True
        for peer in list(self.peers):
            peer.close(code, reason)
        self._flusher.cancel()
        await asyncio.gather(self._flusher, return_exceptions=True)
        self.doc.unobserve(self._subscription)
        if self.link is not None:
            await self.link.close()
        if not keep or self.gone:
            return
        try:
            await (self.compact() if snapshot else self.flush())
        except NotFound:
            self.gone = True


def fold(stored: Sequence[bytes]) -> bytes:
    """One snapshot holding every stored update: the doc they make, encoded (deleted
    content left out); with them merged as they are besides, should any wait for an update
    not stored (a doc leaves those out of its encoding)."""
    doc: Doc[Any] = Doc()
    for update in stored:
        try:
            doc.apply_update(update)
        except ValueError:  # written by this code from a doc's own updates: never expected
            logger.error("a stored update of a draft does not decode")
    snapshot = doc.get_update()
    whole = merge_updates(*stored) if stored else snapshot
    if _structs(get_update(whole, doc.get_state())) == 0:  # the doc took in everything
        return snapshot
    return merge_updates(snapshot, whole)


def _structs(update: bytes) -> int:
    """For how many clients ``update`` carries items (its first number)."""
    return protocol.Reader(update).var_uint()


def _as(state: dict[str, Any], identity: dict[str, str]) -> dict[str, Any]:
    """``state`` with the connection's identity in its ``user``."""
    user = state.get("user")
    return {**state, "user": {**(user if isinstance(user, dict) else {}), **identity}}
