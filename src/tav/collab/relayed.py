"""A room's link to the rooms of its workflow in the other API processes (queue mode).

``RoomLink`` is what the relay (``tav.collab.ports.Relay``) tells of a workflow: it joins
before the room reads its draft, so what it hears before the room is loaded waits for it
(``attach``) and is applied then (twice is as once for Yjs). An update too large for the
relay is read from the store by its id, or, once compacted, with the whole draft; so is
the whole draft whenever the relay was interrupted (``lost``). It also sends this room's
awareness to the others: the clients whose presence changed are gathered, and their
newest states go out together, one message at a time, so a pointer moving fast costs the
database one notification per round trip rather than one per move.

What is heard was checked by the process that took it from its client: the room applies
it to its doc (so every copy converges) but neither keeps nor relays it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tav.collab.ports import DraftStore, Relay, RoomBroken
from tav.collab.protocol import Malformed

if TYPE_CHECKING:
    from tav.collab.room import Room

logger = logging.getLogger("tav.collab")
CLOSE_TIMEOUT_S = 2.0
"""How long a closing room waits for its last awareness (its people leaving) to go out."""


class RoomLink:
    """The relay's ``Hearing`` of one workflow, and the sender of its room's awareness."""

    def __init__(
        self,
        workflow_id: str,
        *,
        relay: Relay,
        store: DraftStore,
        broken: Callable[[Room], None],
    ) -> None:
        """``broken``: called with the room when its doc failed on what it heard (it is
        to be dropped and loaded again)."""
        self.workflow_id = workflow_id
        self.relay = relay
        self.store = store
        self.broken = broken
        self.room: Room | None = None
        self._waiting: list[Callable[[Room], None]] = []
        self._told: set[int] = set()
        self._telling = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def attach(self, room: Room) -> None:
        """The room is loaded: it takes what was heard meanwhile, and asks the others
        who is there."""
        self.room = room
        waiting, self._waiting = self._waiting, []
        for act in waiting:
            self._to_room(act)
        self._spawn(self.relay.query(self.workflow_id))

    async def close(self) -> None:
        """Send the last awareness (within ``CLOSE_TIMEOUT_S``: its people leaving), and
        stop."""
        self._closed = True
        sender = self._sender
        if sender is not None and not sender.done():
            self._telling.set()
            await asyncio.wait({sender}, timeout=CLOSE_TIMEOUT_S)
        tasks = [*self._tasks, *([sender] if sender is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- hearing (tav.collab.ports.Hearing) -----------------------------------------------

    def update(self, row_id: int, update: bytes | None) -> None:
        if update is None:
            self._spawn(self._fetch(row_id))
        else:
            self._to_room(_hearing(update))

    def awareness(self, update: bytes) -> None:
        self._to_room(lambda room: room.hear_awareness(update))

    def query(self) -> None:
        self._to_room(lambda room: self.tell(room.local_clients()))

    def lost(self) -> None:
        self._spawn(self._reload())
        self._spawn(self.relay.query(self.workflow_id))

    # -- telling --------------------------------------------------------------------------

    def tell(self, clients: list[int]) -> None:
        """The presence of ``clients`` (this process's people) changed."""
        if not clients:
            return
        self._told.update(clients)
        self._telling.set()
        if not self._closed and (self._sender is None or self._sender.done()):
            self._sender = asyncio.ensure_future(self._tell_forever())

    async def _tell_forever(self) -> None:
        while True:
            await self._telling.wait()
            self._telling.clear()
            room = self.room
            if room is not None and self._told:
                clients, self._told = sorted(self._told), set()
                update = room.awareness.encode_awareness_update(clients)
                await self.relay.awareness(self.workflow_id, update)
            if self._closed and not self._told:
                return

    # -- the room -------------------------------------------------------------------------

    def _to_room(self, act: Callable[[Room], None]) -> None:
        room = self.room
        if room is None:
            self._waiting.append(act)
            return
        try:
            act(room)
        except Malformed as exc:  # checked where it was written: never expected
            logger.error("the relayed draft of workflow %s: %s", self.workflow_id, exc)
        except RoomBroken:
            logger.exception("the draft of workflow %s failed; reloading", self.workflow_id)
            self.broken(room)

    async def _fetch(self, row_id: int) -> None:
        update = await self.store.fetch(self.workflow_id, row_id)
        if update is None:  # folded into the snapshot meanwhile
            await self._reload()
        else:
            self._to_room(_hearing(update))

    async def _reload(self) -> None:
        stored = await self.store.load(self.workflow_id)
        if stored is None:
            return
        for update in [stored.snapshot, *stored.updates]:
            if update is not None:
                self._to_room(_hearing(update))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "reading the relayed draft of workflow %s failed",
                self.workflow_id,
                exc_info=task.exception(),
            )


def _hearing(update: bytes) -> Callable[[Room], None]:
    return lambda room: room.hear_update(update)
