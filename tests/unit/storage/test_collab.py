"""The live drafts as the database keeps them (``tav.storage.collab``), on SQLite and
PostgreSQL: a room's snapshot and the updates written since read back in order,
compacting folds them into one snapshot, and everything goes with its workflow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pycrdt import Doc, Map, Text
from sqlalchemy import func, select

from tav.collab.ydoc import new_doc, read_document
from tav.core.errors import NotFound
from tav.storage.collab import DraftRepository
from tav.storage.db import Database
from tav.storage.models import CollabUpdateRow
from tav.storage.workflows import WorkflowRepository
from tests.unit.storage.databases import migrated

DOCUMENT = {"schema": 1, "name": "draft", "nodes": [{"id": "a", "type": "core.noop"}]}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with migrated(database_url, empty="workflows CASCADE") as database:
        yield database


@pytest.fixture
def drafts(db: Database) -> DraftRepository:
    return DraftRepository(db)


@pytest.fixture
async def workflow_id(db: Database) -> str:
    return (await WorkflowRepository(db).create(DOCUMENT)).id


def replay(stored: Any) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    for update in [stored.snapshot, *stored.updates]:
        doc.apply_update(update)
    return doc


async def updates_of(db: Database, workflow_id: str) -> int:
    async with db.session() as session:
        count = select(func.count()).where(CollabUpdateRow.workflow_id == workflow_id)
        return int(await session.scalar(count) or 0)


async def test_a_workflow_without_a_draft_has_none(drafts, workflow_id):
    assert await drafts.load(workflow_id) is None


async def test_the_snapshot_and_the_updates_since_read_back_as_the_same_doc(drafts, workflow_id):
    doc = new_doc(DOCUMENT)
    await drafts.compact(workflow_id, doc.get_update(), 1, None)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    nodes = doc.get("nodes", type=Map)
    nodes["b"] = Map({"type": "core.noop", "params": Map({"text": Text("hello")})})
    nodes["b"]["params"]["text"].insert(5, " world")
    del nodes["a"]
    ids = [await drafts.append(workflow_id, update) for update in updates]
    assert ids == sorted(ids)

    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert stored.base_version == 1
    assert list(stored.updates) == updates
    assert stored.last_id == ids[-1]
    assert read_document(replay(stored)) == read_document(doc)


async def test_compacting_folds_the_updates_written_so_far_into_the_snapshot(
    db, drafts, workflow_id
):
    doc = new_doc(DOCUMENT)
    await drafts.compact(workflow_id, doc.get_update(), 1, None)
    first = await drafts.append(workflow_id, b"\x00\x00")
    second = await drafts.append(workflow_id, b"\x00\x00")
    doc.get("meta", type=Map)["name"] = "compacted"
    await drafts.compact(workflow_id, doc.get_update(), 2, first)
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert stored.base_version == 2
    assert stored.last_id == second  # written after the snapshot was taken: kept
    assert await updates_of(db, workflow_id) == 1
    assert read_document(replay(stored))["name"] == "compacted"

    await drafts.set_base(workflow_id, 3)
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert stored.base_version == 3


async def test_the_draft_goes_with_its_workflow(db, drafts, workflow_id):
    await drafts.compact(workflow_id, new_doc(DOCUMENT).get_update(), 1, None)
    await drafts.append(workflow_id, b"\x00\x00")
    assert await WorkflowRepository(db).delete(workflow_id)
    assert await drafts.load(workflow_id) is None
    assert await updates_of(db, workflow_id) == 0
    with pytest.raises(NotFound):
        await drafts.append(workflow_id, b"\x00\x00")
    with pytest.raises(NotFound):
        await drafts.compact(workflow_id, b"\x00\x00", 1, None)
