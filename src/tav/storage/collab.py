"""The live drafts of workflows (``tav.collab.ports.DraftStore``): per workflow a snapshot
of its Yjs document (``collab_drafts``) and the updates written since (``collab_updates``,
in the order of their ids), which compacting folds into a new snapshot.

A room writes a row a few times a second at most while people type (its updates are
batched in memory for up to ``TAV_COLLAB_FLUSH_S``); reading a draft back is one query
for the snapshot and one for the updates. Both tables go with their workflow (``ON DELETE
CASCADE``): an update written for a workflow deleted meanwhile fails on its foreign key,
which is reported as ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tav.core.errors import NotFound
from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import CollabDraftRow, CollabUpdateRow
from tav.storage.upsert import upsert


@dataclass(frozen=True, slots=True)
class StoredDraft:
    base_version: int
    snapshot: bytes | None
    updates: Sequence[bytes]
    last_id: int | None
    """The id of the newest update."""


class DraftRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, workflow_id: str) -> StoredDraft | None:
        async with self.db.session() as session:
            draft = await session.get(CollabDraftRow, workflow_id)
            if draft is None:
                return None
            rows = (
                await session.execute(
                    select(CollabUpdateRow.id, CollabUpdateRow.data)
                    .where(CollabUpdateRow.workflow_id == workflow_id)
                    .order_by(CollabUpdateRow.id)
                )
            ).all()
        return StoredDraft(
            base_version=draft.base_version,
            snapshot=draft.snapshot,
            updates=[data for _, data in rows],
            last_id=rows[-1][0] if rows else None,
        )

    async def append(self, workflow_id: str, data: bytes) -> int:
        row = CollabUpdateRow(workflow_id=workflow_id, data=data, created_at=utcnow())
        try:
            async with self.db.transaction() as session:
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise _gone(workflow_id) from None
        return row.id

    async def compact(
        self, workflow_id: str, snapshot: bytes, base_version: int, through: int | None
    ) -> None:
        values = {
            "workflow_id": workflow_id,
            "base_version": base_version,
            "snapshot": snapshot,
            "updated_at": utcnow(),
        }
        statement = upsert(
            self.db.dialect,
            CollabDraftRow,
            ["workflow_id"],
            ["base_version", "snapshot", "updated_at"],
        )
        try:
            async with self.db.transaction() as session:
                await session.execute(statement, values)
                if through is not None:
                    await session.execute(
                        delete(CollabUpdateRow).where(
                            CollabUpdateRow.workflow_id == workflow_id,
                            CollabUpdateRow.id <= through,
                        )
                    )
        except IntegrityError:
            raise _gone(workflow_id) from None

    async def set_base(self, workflow_id: str, base_version: int) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(CollabDraftRow)
                .where(CollabDraftRow.workflow_id == workflow_id)
                .values(base_version=base_version, updated_at=utcnow())
            )


def _gone(workflow_id: str) -> NotFound:
    return NotFound(f"no workflow with id {workflow_id!r}")
