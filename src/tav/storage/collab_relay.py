"""Live co-editing across API processes: PostgreSQL ``LISTEN``/``NOTIFY`` (queue mode).

Each process that has a workflow's room open listens on the workflow's channel
(``tav_collab_<workflow id>``), so it hears only of the rooms it has open. Three messages
go through it (the payload is text):

- ``u <origin> <row id> <base64>``: an update was kept as row ``row id``. It is sent by
  ``tav.storage.collab.DraftRepository`` in the transaction that writes the row, so it is
  heard at commit, never for a write that failed, and a room that listens first and then
  reads the draft misses nothing in between (at worst it gets an update twice, which Yjs
  takes as once). An update too large for a payload goes as ``-``, by reference: the room
  reads the row (or, once compacted, the draft).
- ``a <origin> <message> <part> <parts> <base64>``: an awareness update (who is there,
  their cursors) of the people of one process; a large one goes in parts, all sent in one
  transaction (so heard together). Not kept: a lost one is sent again by its client.
- ``q <origin>``: a room opened; the others answer with their people's awareness.

``origin`` names the sending process: a process ignores what it sent itself, so nothing it
relays comes back to it (no loops).

Why PostgreSQL rather than Redis pub/sub: queue mode always has PostgreSQL, and Redis only
with a Redis broker (RabbitMQ deployments would be left without it); the updates are rows
in PostgreSQL already, and a notification sent with the row is delivered exactly when the
row can be read, in commit order, which a Redis message published beside the database
could not promise (it may overtake its row's commit, or go out for a write that then
failed). What it costs: payloads under 8000 bytes (hence references and parts), every
update written before it is relayed (a commit, a few milliseconds), and one connection per
process, opened with the first room. Awareness is sent on that connection with
``synchronous_commit = off``: presence is never kept, so it need not wait for the disk.

If the connection breaks, every room is told (``lost``): it reads its draft again once the
connection is back, and asks for everyone's awareness again. The connection must reach
PostgreSQL directly, or through a pooler in session mode (``LISTEN`` belongs to a session).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import secrets
from contextlib import suppress
from typing import Any, Protocol

from tav.storage.db import Database
from tav.storage.own_session import OwnSession, failures

logger = logging.getLogger("tav.storage.collab")
CHANNEL = "tav_collab_"
MAX_PAYLOAD = 7900
"""PostgreSQL's limit is 8000 bytes; what stays is for the header."""
PART = 7800
"""Base64 characters of an awareness update per message."""
MAX_PARTIAL = 64
"""Awareness updates in parts, heard in part, kept while their other parts come."""


class Hearing(Protocol):
    """A room's side (``tav.collab.ports.Hearing``)."""

    def update(self, row_id: int, update: bytes | None) -> None: ...

    def awareness(self, update: bytes) -> None: ...

    def query(self) -> None: ...

    def lost(self) -> None: ...


class DraftRelay:
    """The rooms of this process in touch with those of the others
    (``tav.collab.ports.Relay``), and the notices of ``DraftRepository``."""

    def __init__(self, db: Database, *, check_s: float = 5.0, retry_s: float = 1.0) -> None:
        """``check_s``: how often the connection is asked whether it still answers;
        ``retry_s``: how soon a broken one is opened again."""
        self.db = db
        self.origin = secrets.token_hex(6)
        self.check_s = check_s
        self.retry_s = retry_s
        self._hearings: dict[str, Hearing] = {}
        self._lock = asyncio.Lock()
        """One operation at a time on the connection."""
        self._session: OwnSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._messages = itertools.count()
        self._partial: dict[tuple[str, str], list[str]] = {}
        self._missed = False
        """The connection broke since the rooms last heard everything."""
        self._closed = False

    # -- what DraftRepository sends with a row --------------------------------------------

    def notice(self, workflow_id: str, row_id: int, update: bytes) -> tuple[str, str]:
        payload = f"u {self.origin} {row_id} {_encode(update)}"
        if len(payload) > MAX_PAYLOAD:
            payload = f"u {self.origin} {row_id} -"
        return CHANNEL + workflow_id, payload

    # -- rooms ----------------------------------------------------------------------------

    async def join(self, workflow_id: str, hearing: Hearing) -> None:
        channel = CHANNEL + workflow_id
        self._hearings[channel] = hearing
        try:
            async with self._lock:
                driver = await self._connect()
                await driver.add_listener(channel, self._heard)
        except BaseException:
            self._hearings.pop(channel, None)
            raise

    async def leave(self, workflow_id: str, hearing: Hearing) -> None:
        channel = CHANNEL + workflow_id
        if self._hearings.get(channel) is not hearing:
            return  # a room of it opened since: it goes on hearing
        del self._hearings[channel]
        async with self._lock:
            if (driver := self._open_driver()) is not None:
                with suppress(*_FAILURES):
                    await driver.remove_listener(channel, self._heard)

    async def awareness(self, workflow_id: str, update: bytes) -> None:
        encoded = _encode(update)
        parts = [encoded[at : at + PART] for at in range(0, len(encoded), PART)] or [""]
        message = f"{self.origin} {next(self._messages)}"
        await self._notify(
            workflow_id,
            [f"a {message} {index} {len(parts)} {part}" for index, part in enumerate(parts)],
        )

    async def query(self, workflow_id: str) -> None:
        await self._notify(workflow_id, [f"q {self.origin}"])

    async def aclose(self) -> None:
        self._closed = True
        self._hearings.clear()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        async with self._lock:
            await self._disconnect()

    # -- hearing --------------------------------------------------------------------------

    def _heard(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        hearing = self._hearings.get(channel)
        if hearing is None:
            return
        fields = payload.split(" ")
        if len(fields) < 2 or fields[1] == self.origin:
            return
        try:
            self._dispatch(hearing, fields)
        except (ValueError, IndexError, binascii.Error):
            logger.warning("a live co-editing notice could not be read: %.80s", payload)

    def _dispatch(self, hearing: Hearing, fields: list[str]) -> None:
        kind = fields[0]
        if kind == "u":
            hearing.update(int(fields[2]), None if fields[3] == "-" else _decode(fields[3]))
        elif kind == "a":
            whole = self._whole(fields)
            if whole is not None:
                hearing.awareness(_decode(whole))
        elif kind == "q":
            hearing.query()

    def _whole(self, fields: list[str]) -> str | None:
        """The awareness update once all its parts are heard."""
        _, origin, message, index, count, part = fields
        if count == "1":
            return part
        key = (origin, message)
        parts = self._partial.setdefault(key, [])
        if int(index) != len(parts):  # a part went missing: the message is dropped
            self._partial.pop(key, None)
            return None
        parts.append(part)
        if len(parts) < int(count):
            while len(self._partial) > MAX_PARTIAL:
                del self._partial[next(iter(self._partial))]
            return None
        del self._partial[key]
        return "".join(parts)

    # -- the connection -------------------------------------------------------------------

    async def _notify(self, workflow_id: str, payloads: list[str]) -> None:
        channel = CHANNEL + workflow_id
        try:
            async with self._lock:
                driver = await self._connect()
                async with asyncio.timeout(self.check_s), driver.transaction():
                    for payload in payloads:
                        await driver.execute("SELECT pg_notify($1, $2)", channel, payload)
        except _FAILURES as exc:
            logger.warning("could not relay live co-editing presence: %s", exc)

    def _open_driver(self) -> Any:
        """asyncpg's connection, if the session is open and not known to have ended."""
        session = self._session
        if session is None or session.driver is None or session.ended.is_set():
            return None
        return session.driver

    async def _connect(self) -> Any:
        """The connection, opened if it is not (call with ``_lock``)."""
        if (driver := self._open_driver()) is not None:
            return driver
        if self._closed:
            raise ConnectionError("the live co-editing relay is closed")
        self._missed = self._missed or self._session is not None
        await self._disconnect()
        session = self._session = OwnSession(self.db, "tav collab relay", synchronous_commit="off")
        driver = await session.open(self.check_s)
        async with asyncio.timeout(self.check_s):
            for channel in list(self._hearings):
                await driver.add_listener(channel, self._heard)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())
        if self._missed:
            self._missed = False
            logger.info("the live co-editing relay is back: the open rooms read their drafts")
            for hearing in list(self._hearings.values()):
                hearing.lost()
        return driver

    async def _disconnect(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _watch(self) -> None:
        """Notice a broken connection (asked every ``check_s``, or told by asyncpg), open
        it again, and tell every room it may have missed something."""
        while not self._closed:
            session = self._session
            ended = session.ended if session is not None else asyncio.Event()
            with suppress(TimeoutError):
                async with asyncio.timeout(self.check_s):
                    await ended.wait()
            if not ended.is_set() and await self._answers():
                continue
            await self._reopen()

    async def _answers(self) -> bool:
        try:
            async with self._lock:
                return self._session is not None and await self._session.answers(self.check_s)
        except _FAILURES as exc:
            logger.warning("the live co-editing relay's connection broke: %s", exc)
            return False

    async def _reopen(self) -> None:
        while not self._closed:
            try:
                async with self._lock:
                    if self._session is not None:
                        self._session.ended.set()  # (so that ``_connect`` opens a new one)
                    self._missed = True
                    await self._connect()
            except _FAILURES as exc:
                logger.warning("cannot reopen the live co-editing relay: %s", exc)
                await asyncio.sleep(self.retry_s)
                continue
            return


_FAILURES = failures()


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
