"""The live drafts of workflows (``tav.collab.ports.DraftStore``): per workflow a snapshot
of its Yjs document (``collab_drafts``) and the updates written since (``collab_updates``),
which compacting folds into a new snapshot.

A room writes a row a few times a second at most while people type (its updates are
batched in memory for up to ``TAV_COLLAB_FLUSH_S``; in queue mode each batch is written at
once, before it is relayed); reading a draft back is one query for the updates and one for
the snapshot. Both tables go with their workflow (``ON DELETE CASCADE``): an update written
for a workflow deleted meanwhile fails on its foreign key, which is reported as
``NotFound``.

Several processes may keep one draft at once (queue mode: a room of the workflow open in
each). Every write is safe under that:

- appends commute (a Yjs update applies in any order, and twice as once), and with a
  ``Notices`` (``tav.storage.collab_relay``) each is announced to the others in the
  transaction that writes it, so it is heard only once it can be read;
- compacting locks the draft's row (``FOR UPDATE``: one compaction at a time), reads the
  snapshot and the updates *committed so far*, and replaces exactly those by their fold: an
  update committed meanwhile, even one with a lower id, is neither folded nor deleted;
- the first snapshot is created only if there is none (``create``), so that every client
  ever served shares one history;
- a version saved outside the draft is taken in by one process only (``take``: the base
  version moves forward in the transaction that writes the change), and a process that
  saves the draft holds ``saving`` meanwhile, so that no other takes in the version it is
  writing as if it came from outside;
- reading (``load``) reads the updates before the snapshot: a compaction committed between
  the two only moves updates into the snapshot, so nothing is missed, at worst read twice.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tav.core.errors import NotFound
from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import CollabDraftRow, CollabUpdateRow
from tav.storage.upsert import upsert

LOCK_SPACE = int.from_bytes(b"tavd", "big")
"""The first key of the drafts' advisory locks (``pg_advisory_lock(int, int)``); the
second is a hash of the workflow id."""


@dataclass(frozen=True, slots=True)
class StoredDraft:
    base_version: int
    snapshot: bytes | None
    updates: Sequence[bytes]
    last_id: int | None
    """The id of the newest update."""


class Notices(Protocol):
    """Announces an update to the other processes (``tav.storage.collab_relay``)."""

    def notice(self, workflow_id: str, row_id: int, update: bytes) -> tuple[str, str]:
        """The channel and payload of ``pg_notify`` that tells of update ``row_id``."""
        ...


class DraftRepository:
    def __init__(self, db: Database, notices: Notices | None = None) -> None:
        """``notices``: tell the other processes of every update written (queue mode on
        PostgreSQL)."""
        self.db = db
        self.notices = notices

    async def load(self, workflow_id: str) -> StoredDraft | None:
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(CollabUpdateRow.id, CollabUpdateRow.data)
                    .where(CollabUpdateRow.workflow_id == workflow_id)
                    .order_by(CollabUpdateRow.id)
                )
            ).all()
            draft = (
                await session.execute(
                    select(CollabDraftRow.base_version, CollabDraftRow.snapshot).where(
                        CollabDraftRow.workflow_id == workflow_id
                    )
                )
            ).one_or_none()
        if draft is None:
            return None
        return StoredDraft(
            base_version=draft.base_version,
            snapshot=draft.snapshot,
            updates=[data for _, data in rows],
            last_id=rows[-1][0] if rows else None,
        )

    async def fetch(self, workflow_id: str, row_id: int) -> bytes | None:
        """Update ``row_id``; ``None`` once a compaction folded it into the snapshot."""
        async with self.db.session() as session:
            found = await session.scalar(
                select(CollabUpdateRow.data).where(
                    CollabUpdateRow.id == row_id, CollabUpdateRow.workflow_id == workflow_id
                )
            )
        return bytes(found) if found is not None else None

    async def create(self, workflow_id: str, snapshot: bytes, base_version: int) -> bool:
        """Start the draft from ``snapshot``; ``False`` when it has one already (another
        process started it meanwhile)."""
        statement = upsert(self.db.dialect, CollabDraftRow, ["workflow_id"])
        values = {
            "workflow_id": workflow_id,
            "base_version": base_version,
            "snapshot": snapshot,
            "updated_at": utcnow(),
        }
        try:
            async with self.db.transaction() as session:
                result: Any = await session.execute(statement, values)
        except IntegrityError:
            raise _gone(workflow_id) from None
        return bool(result.rowcount)

    async def append(self, workflow_id: str, data: bytes) -> int:
        try:
            async with self.db.transaction() as session:
                return await self._append(session, workflow_id, data)
        except IntegrityError:
            raise _gone(workflow_id) from None

    async def take(self, workflow_id: str, data: bytes | None, version: int) -> bool:
        """Write ``data`` (the draft becoming saved version ``version``; ``None``: nothing
        to change) and move the base to ``version``, only if the base is older; ``False``
        (nothing written) when another process took it in, or saved it from the draft."""
        try:
            async with self.db.transaction() as session:
                await self._lock(session, workflow_id)
                moved: Any = await session.execute(_move_base(workflow_id, version))
                if not moved.rowcount:
                    return False
                if data is not None:
                    await self._append(session, workflow_id, data)
                return True
        except IntegrityError:
            raise _gone(workflow_id) from None

    async def set_base(self, workflow_id: str, base_version: int) -> None:
        """The draft took in saved version ``base_version`` (never moves it back)."""
        async with self.db.transaction() as session:
            await session.execute(_move_base(workflow_id, base_version))

    @asynccontextmanager
    async def saving(self, workflow_id: str) -> AsyncIterator[None]:
        """Held while a process saves the draft as a version: meanwhile no other process
        ``take``s a version in (it would take the one being saved for a change from
        outside). An advisory lock on PostgreSQL, held by a transaction of its own (it ends
        with it, and with the session if the process dies); nothing on SQLite (one
        process)."""
        if self.db.is_sqlite:
            yield
            return
        params = {"space": LOCK_SPACE, "key": _key(workflow_id)}
        async with self.db.engine.begin() as connection:  # the lock ends with it
            await connection.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), params)
            yield

    async def compact(self, workflow_id: str, fold: Callable[[Sequence[bytes]], bytes]) -> None:
        """Replace the snapshot and the updates committed so far by
        ``fold([snapshot, *updates])``, a snapshot that holds them all. ``NotFound`` when
        the workflow (or its draft) is gone."""
        async with self.db.transaction() as session:
            snapshot = await session.scalar(
                select(CollabDraftRow.snapshot)
                .where(CollabDraftRow.workflow_id == workflow_id)
                .with_for_update()
            )
            if snapshot is None:
                raise _gone(workflow_id)
            rows = (
                await session.execute(
                    select(CollabUpdateRow.id, CollabUpdateRow.data)
                    .where(CollabUpdateRow.workflow_id == workflow_id)
                    .order_by(CollabUpdateRow.id)
                )
            ).all()
            folded = fold([snapshot, *(data for _, data in rows)])
            await session.execute(
                update(CollabDraftRow)
                .where(CollabDraftRow.workflow_id == workflow_id)
                .values(snapshot=folded, updated_at=utcnow())
            )
            if rows:
                ids = [row_id for row_id, _ in rows]
                await session.execute(delete(CollabUpdateRow).where(CollabUpdateRow.id.in_(ids)))

    async def _append(self, session: AsyncSession, workflow_id: str, data: bytes) -> int:
        row_id = await session.scalar(
            insert(CollabUpdateRow)
            .values(workflow_id=workflow_id, data=data, created_at=utcnow())
            .returning(CollabUpdateRow.id)
        )
        assert row_id is not None
        if self.notices is not None:
            channel, payload = self.notices.notice(workflow_id, row_id, data)
            await session.execute(select(func.pg_notify(channel, payload)))
        return int(row_id)

    async def _lock(self, session: AsyncSession, workflow_id: str) -> None:
        """Wait for a process saving the draft (``saving``) to be done."""
        if not self.db.is_sqlite:
            params = {"space": LOCK_SPACE, "key": _key(workflow_id)}
            await session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), params)


def _move_base(workflow_id: str, version: int) -> Any:
    return (
        update(CollabDraftRow)
        .where(CollabDraftRow.workflow_id == workflow_id, CollabDraftRow.base_version < version)
        .values(base_version=version, updated_at=utcnow())
    )


def _key(workflow_id: str) -> int:
    """A 32-bit signed key for ``workflow_id`` (a collision only makes two drafts wait
    for each other)."""
    return zlib.crc32(workflow_id.encode()) - 2**31


def _gone(workflow_id: str) -> NotFound:
    return NotFound(f"no workflow with id {workflow_id!r}")
