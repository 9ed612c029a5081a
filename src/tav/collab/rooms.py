"""The open rooms of a process: one per workflow being edited, opened on first use, bounded
in number and in people, closed when their workflow is deleted and unloaded a while after
the last person left.

A room opens from what was stored of its draft (``DraftStore``: a snapshot and the updates
since); a workflow with no draft yet starts one from its last saved version, written at
once, so that every client ever served shares its history. A version saved while the room
was closed (by a REST save, or another process) is taken into the draft when it opens, as
one change; one saved while it is open is taken in at once (``saved``), or, when another
process saved it, within ``recheck_s``.

In queue mode (``relay``) the room of a workflow may be open in several API processes at
once, each linked to the others (``tav.collab.relayed``): a room joins the relay before it
reads its draft, so it starts from everything kept and hears everything kept after; the
first snapshot of a draft is written by one process only (``DraftStore.create``), and a
version saved while rooms are open is taken in by one of them (``DraftStore.take``), the
others hearing it from there.

About once a second (``recheck_s``) every connection's credentials are checked again (each
set of credentials once, however many connections use it): a session that expired or was
ended, an API key deleted, a user disabled in another process (``tav users disable``) or a
role lowered to viewer takes effect within that second. ``user_disabled`` closes a user's
connections at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from tav.collab.limits import NO_CHANGE_COST, Limits
from tav.collab.long_text import LongText
from tav.collab.ports import (
    Access,
    Channel,
    Closed,
    Credentials,
    DraftStore,
    Relay,
    RoomBroken,
    SavedWorkflow,
    SavedWorkflows,
    StoredDraft,
)
from tav.collab.protocol import CloseCode, Malformed
from tav.core.errors import NotFound, OperationalError

if TYPE_CHECKING:
    from pycrdt import Doc

    from tav.collab.relayed import RoomLink
    from tav.collab.room import Peer, Room

logger = logging.getLogger("tav.collab")
S = TypeVar("S", bound=SavedWorkflow)
GONE = "the workflow was deleted"


class TooManyRooms(OperationalError):
    """This process has ``max_rooms`` rooms open, each with someone in it."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} workflows are being edited on this server: try again later")


class Rooms:
    def __init__(
        self,
        *,
        store: DraftStore,
        workflows: SavedWorkflows,
        long_text: LongText,
        limits: Limits | None = None,
        relay: Relay | None = None,
    ) -> None:
        """``relay``: the rooms of the other API processes (queue mode)."""
        self.store = store
        self.relay = relay
        self.workflows = workflows
        self.long_text = long_text
        self.limits = limits or Limits()
        self.rooms: dict[str, Room] = {}
        self._opening: dict[str, asyncio.Future[Room]] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._closing: dict[str, asyncio.Future[None]] = {}
        """Rooms being closed, by workflow id: done once what they held is written."""
        self._checker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.accepting = True

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.accepting = True
        if self._checker is None:
            self._checker = asyncio.ensure_future(self._check_forever())

    async def close(self) -> None:
        """Close every room (its people told the server is going away) and keep its
        draft."""
        self.accepting = False
        if self._checker is not None:
            self._checker.cancel()
            await asyncio.gather(self._checker, return_exceptions=True)
            self._checker = None
        for handle in self._idle.values():
            handle.cancel()
        self._idle.clear()
        rooms, self.rooms = list(self.rooms.values()), {}
        for room in rooms:
            await _quietly(room.close(CloseCode.GOING_AWAY, "the server is stopping"))
            await self._leave(room)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.relay is not None:
            await self.relay.aclose()

    # -- serving a connection -------------------------------------------------------------

    async def serve(
        self, workflow_id: str, channel: Channel, credentials: Credentials, access: Access
    ) -> None:
        """Serve one connection to the room of ``workflow_id`` until it ends or is closed
        (with a ``CloseCode``); the caller has accepted it."""
        from tav.collab.room import Peer  # pycrdt: with the first connection, not at start

        peer = Peer(channel, credentials, access, self.limits)
        if not self.accepting:
            await _quietly(channel.close(CloseCode.GOING_AWAY, "the server is stopping"))
            return
        try:
            room = await self._admit(workflow_id, peer)
        except NotFound:
            await _quietly(channel.close(CloseCode.NOT_FOUND, GONE))
            return
        except TooManyRooms as exc:
            await _quietly(channel.close(CloseCode.TRY_AGAIN_LATER, str(exc)))
            return
        if room is None:
            reason = f"{self.limits.max_peers} people are in this workflow: try again later"
            await _quietly(channel.close(CloseCode.TRY_AGAIN_LATER, reason))
            return
        try:
            await self._run(room, peer)
        finally:
            room.leave(peer)
            self._idle_later(room)
        if peer.close_code is not None:
            await _quietly(channel.close(peer.close_code, peer.close_reason))

    async def _admit(self, workflow_id: str, peer: Peer) -> Room | None:
        room = await self.open(workflow_id)
        if room.full:
            self._idle_later(room)
            return None
        self._not_idle(room)
        room.join(peer)
        return room

    async def _run(self, room: Room, peer: Peer) -> None:
        tasks = [
            asyncio.ensure_future(self._read(room, peer)),
            asyncio.ensure_future(peer.write()),
            asyncio.ensure_future(peer.closing.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(
                result, Closed | asyncio.CancelledError
            ):
                logger.error("live co-editing connection failed", exc_info=result)
                peer.close(CloseCode.INTERNAL_ERROR, "unexpected server error")

    async def _read(self, room: Room, peer: Peer) -> None:
        limit = self.limits.max_message_bytes
        while True:
            try:
                message = await peer.channel.recv()
            except Closed:
                return
            except Malformed as exc:
                peer.close(CloseCode.MALFORMED, str(exc))
                return
            if len(message) > limit:
                peer.close(CloseCode.TOO_BIG, f"messages are limited to {limit} bytes")
                return
            try:
                changed = room.receive(peer, message)
            except Malformed as exc:
                peer.close(CloseCode.MALFORMED, str(exc))
                return
            except RoomBroken:
                logger.exception("the draft of workflow %s failed; reloading", room.workflow_id)
                peer.close(CloseCode.MALFORMED, "the update could not be applied")
                self._spawn(self._drop(room))
                return
            if not peer.rate.take(len(message), 1.0 if changed else NO_CHANGE_COST):
                peer.close(CloseCode.TOO_MANY_MESSAGES, "too many messages: slow down")
                return

    # -- rooms ----------------------------------------------------------------------------

    async def open(self, workflow_id: str) -> Room:
        """The room of ``workflow_id``, opened if it is not; ``NotFound`` when there is no
        such workflow, ``TooManyRooms``."""
        room = self.rooms.get(workflow_id)
        if room is not None:
            return room
        opening = self._opening.get(workflow_id)
        if opening is None:
            opening = asyncio.ensure_future(self._load(workflow_id))
            self._opening[workflow_id] = opening
            opening.add_done_callback(lambda _: self._opening.pop(workflow_id, None))
        return await asyncio.shield(opening)

    async def _load(self, workflow_id: str) -> Room:
        closing = self._closing.get(workflow_id)
        if closing is not None:
            await asyncio.shield(closing)
        saved = await self.workflows.get(workflow_id)
        if saved is None:
            raise NotFound(f"no workflow with id {workflow_id!r}")
        await self._make_space()
        link = self._link(workflow_id)
        if link is not None and self.relay is not None:
            await self.relay.join(workflow_id, link)  # before reading: nothing is missed
        try:
            room = await self._start(workflow_id, saved, link)
        except BaseException:
            if link is not None and self.relay is not None:
                await link.close()
                await self.relay.leave(workflow_id, link)
            raise
        self.rooms[workflow_id] = room
        if link is not None:
            link.attach(room)
        self._idle_later(room)
        return room

    def _link(self, workflow_id: str) -> RoomLink | None:
        if self.relay is None:
            return None
        from tav.collab.relayed import RoomLink

        def broken(room: Room) -> None:
            self._spawn(self._drop(room))

        return RoomLink(workflow_id, relay=self.relay, store=self.store, broken=broken)

    async def _start(self, workflow_id: str, saved: SavedWorkflow, link: RoomLink | None) -> Room:
        """The room, from what was stored of its draft; a draft started from ``saved``
        when there is none yet (unless another process starts it first)."""
        stored = await self.store.load(workflow_id)
        if stored is None:
            first = self._doc(workflow_id, saved.document, None)
            if await self.store.create(workflow_id, first.get_update(), saved.version):
                return self._room(workflow_id, first, saved.document, saved.version, link)
            stored = await self.store.load(workflow_id)
            if stored is None:
                raise NotFound(f"no workflow with id {workflow_id!r}")
        doc = self._doc(workflow_id, saved.document, stored)
        room = self._room(workflow_id, doc, saved.document, stored.base_version, link)
        if saved.version > stored.base_version:
            try:
                async with room.lock:
                    await room.take_saved(saved.document, saved.version)
            except BaseException:
                await room.close(CloseCode.INTERNAL_ERROR, "the draft could not load", keep=False)
                raise
        room.wrap_plain_values()
        return room

    def _doc(
        self, workflow_id: str, saved: Mapping[str, Any], stored: StoredDraft | None
    ) -> Doc[Any]:
        from pycrdt import Doc

        from tav.collab.ydoc import write_document

        doc: Doc[Any] = Doc()
        if stored is None:
            write_document(doc, saved, self.long_text)
        else:
            for update in [stored.snapshot, *stored.updates]:
                if update is not None:
                    _apply_stored(doc, update, workflow_id)
        return doc

    def _room(
        self,
        workflow_id: str,
        doc: Doc[Any],
        like: Mapping[str, Any],
        version: int,
        link: RoomLink | None,
    ) -> Room:
        from tav.collab.room import Room

        return Room(
            workflow_id,
            doc,
            base_version=version,
            like=like,
            store=self.store,
            long_text=self.long_text,
            limits=self.limits,
            link=link,
        )

    async def _make_space(self) -> None:
        if len(self.rooms) + len(self._opening) <= self.limits.max_rooms:
            return
        for room in [room for room in self.rooms.values() if not room.peers]:
            await self._unload(room)
            if len(self.rooms) + len(self._opening) <= self.limits.max_rooms:
                return
        raise TooManyRooms(self.limits.max_rooms)

    def _idle_later(self, room: Room) -> None:
        """Unload ``room`` ``idle_s`` from now unless someone is in it by then."""
        if room.peers or room.closed:
            return
        self._not_idle(room)
        loop = asyncio.get_running_loop()
        self._idle[room.workflow_id] = loop.call_later(
            self.limits.idle_s, lambda: self._spawn(self._unload_if_idle(room))
        )

    def _not_idle(self, room: Room) -> None:
        handle = self._idle.pop(room.workflow_id, None)
        if handle is not None:
            handle.cancel()

    async def _unload_if_idle(self, room: Room) -> None:
        if not room.peers and self.rooms.get(room.workflow_id) is room:
            await self._unload(room)

    async def _unload(self, room: Room) -> None:
        await self._forget(room, CloseCode.GOING_AWAY, "the room was unloaded: reconnect")

    async def _drop(self, room: Room) -> None:
        """Close a room whose doc failed and forget it: it loads again from what was
        stored (and the clients send it what that lacks when they reconnect)."""
        await self._forget(room, CloseCode.INTERNAL_ERROR, "the room reloads: reconnect")

    async def _forget(self, room: Room, code: CloseCode, reason: str) -> None:
        """Close ``room`` and write what it has not; until that is written, the room
        does not open again: it would load without it, and its next snapshot would drop
        it."""
        self._not_idle(room)
        if self.rooms.get(room.workflow_id) is room:
            del self.rooms[room.workflow_id]
        closed = self._closing[room.workflow_id] = asyncio.get_running_loop().create_future()
        try:
            await room.close(code, reason, snapshot=code is CloseCode.GOING_AWAY)
            await self._leave(room)
        finally:
            if self._closing.get(room.workflow_id) is closed:
                del self._closing[room.workflow_id]
            closed.set_result(None)

    # -- what the workflows use case tells ------------------------------------------------

    async def draft(self, workflow_id: str) -> tuple[dict[str, Any], int]:
        """The live draft of ``workflow_id`` as a document, and the saved version it is
        based on; ``NotFound``."""
        room = await self.open(workflow_id)
        return room.draft(), room.base_version

    async def save(self, workflow_id: str, store: Callable[[dict[str, Any]], Awaitable[S]]) -> S:
        """Save the draft with ``store`` (which makes it a numbered version); the draft is
        then based on that version. Nothing else changes the room meanwhile but typing."""
        room = await self.open(workflow_id)
        async with room.lock, self.store.saving(workflow_id):
            saved = await store(room.draft())
            await room.saved_as(saved.version, saved.document)
        return saved

    async def saved(self, workflow_id: str, document: Mapping[str, Any], version: int) -> None:
        """A version was saved not from the draft: an open room takes it in as one
        change."""
        room = self.rooms.get(workflow_id)
        if room is None or room.closed:
            return  # taken in when the room opens
        async with room.lock:
            if version > room.base_version:
                await room.take_saved(document, version)

    async def deleted(self, workflow_id: str) -> None:
        """The workflow is gone: its room closes (``NOT_FOUND``) and writes nothing more."""
        room = self.rooms.pop(workflow_id, None)
        if room is not None:
            self._not_idle(room)
            room.gone = True
            await room.close(CloseCode.NOT_FOUND, GONE, keep=False)
            await self._leave(room)

    async def _leave(self, room: Room) -> None:
        """Stop hearing of ``room``'s workflow from the other processes, once it is
        closed."""
        if self.relay is not None and room.link is not None:
            await self.relay.leave(room.workflow_id, room.link)

    async def user_disabled(self, user_id: str) -> None:
        """Close every connection of ``user_id`` at once."""
        for room in self.rooms.values():
            for peer in list(room.peers):
                if peer.access.user_id == user_id:
                    peer.close(CloseCode.UNAUTHORIZED, "the user was disabled")

    # -- once a second --------------------------------------------------------------------

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.recheck_s)
            try:
                await self.check()
            except Exception:
                logger.exception("checking the live co-editing rooms failed")

    async def check(self) -> None:
        """Check every connection's credentials, and every room's workflow; forget the
        presence of people in dead processes."""
        await self._check_credentials()
        for room in list(self.rooms.values()):
            await self._check_workflow(room)
            room.expire_remote()

    async def _check_credentials(self) -> None:
        by_key: dict[str, list[Peer]] = {}
        for room in self.rooms.values():
            for peer in room.peers:
                by_key.setdefault(peer.credentials.key, []).append(peer)
        for peers in by_key.values():
            try:
                access = await peers[0].credentials.check()
            except Exception:  # the database is away: checked again in a second
                logger.exception("checking the credentials of a live co-editing connection")
                continue
            for peer in peers:
                if access is None:
                    peer.close(CloseCode.UNAUTHORIZED, "the credentials are no longer valid")
                else:
                    peer.access = access

    async def _check_workflow(self, room: Room) -> None:
        if room.lock.locked() or room.closed:
            return  # being saved: looked at again in a second
        saved = await self.workflows.get(room.workflow_id)
        if saved is None:
            await self.deleted(room.workflow_id)
        elif saved.version > room.base_version:
            async with room.lock:
                await room.take_saved(saved.document, saved.version)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _apply_stored(doc: Doc[Any], update: bytes, workflow_id: str) -> None:
    try:
        doc.apply_update(update)
    except ValueError:  # written by this code from the doc's own updates: never expected
        logger.error("a stored update of the draft of workflow %s does not decode", workflow_id)


async def _quietly(closing: Awaitable[None]) -> None:
    """Await ``closing``, which may find the connection already gone."""
    with contextlib.suppress(Closed, OSError, RuntimeError):
        await closing
