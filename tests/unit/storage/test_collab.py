"""The live drafts as the database keeps them (``tav.storage.collab``), on SQLite and
PostgreSQL: a room's snapshot and the updates written since read back in order,
compacting folds them into one snapshot, a draft is started once and a saved version
taken in once, and everything goes with its workflow. On PostgreSQL, where several
processes keep one draft, a compaction never drops an update committed while it ran, and
no version is taken in while the draft is being saved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pycrdt import Doc, Map, Text
from sqlalchemy import func, insert, select

from tav.collab.room import fold
from tav.collab.ydoc import new_doc, read_document
from tav.core.errors import NotFound
from tav.core.events import utcnow
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


def changes(doc: Doc[Any]) -> list[bytes]:
    """The updates ``doc`` makes from now on."""
    made: list[bytes] = []
    doc.observe(lambda event: made.append(event.update))
    return made


async def test_the_snapshot_and_the_updates_since_read_back_as_the_same_doc(drafts, workflow_id):
    doc = new_doc(DOCUMENT)
    assert await drafts.create(workflow_id, doc.get_update(), 1)
    updates = changes(doc)
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
    assert await drafts.fetch(workflow_id, ids[0]) == updates[0]


async def test_a_draft_is_started_once(drafts, workflow_id):
    first, second = new_doc(DOCUMENT), new_doc({**DOCUMENT, "name": "another"})
    assert await drafts.create(workflow_id, first.get_update(), 1)
    assert not await drafts.create(workflow_id, second.get_update(), 1)
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert stored.snapshot == first.get_update()


async def test_compacting_folds_the_updates_written_so_far_into_the_snapshot(
    db, drafts, workflow_id
):
    doc = new_doc(DOCUMENT)
    await drafts.create(workflow_id, doc.get_update(), 1)
    updates = changes(doc)
    doc.get("meta", type=Map)["name"] = "compacted"
    doc.get("nodes", type=Map)["a"]["name"] = "A"
    first = await drafts.append(workflow_id, updates[0])
    await drafts.append(workflow_id, updates[1])
    await drafts.compact(workflow_id, fold)
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert stored.base_version == 1
    assert list(stored.updates) == []
    assert await updates_of(db, workflow_id) == 0
    assert await drafts.fetch(workflow_id, first) is None
    assert read_document(replay(stored)) == read_document(doc)
    assert read_document(replay(stored))["name"] == "compacted"


async def test_a_snapshot_keeps_an_update_that_waits_for_one_not_stored_yet(drafts, workflow_id):
    doc = new_doc(DOCUMENT)
    await drafts.create(workflow_id, doc.get_update(), 1)
    updates = changes(doc)
    nodes = doc.get("nodes", type=Map)
    nodes["b"] = Map({"type": "core.noop", "params": Map({"text": Text("hello")})})
    nodes["b"]["params"]["text"].insert(5, " world")
    await drafts.append(workflow_id, updates[1])  # the second, before the first
    await drafts.compact(workflow_id, fold)
    await drafts.append(workflow_id, updates[0])
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert read_document(replay(stored)) == read_document(doc)


async def test_a_saved_version_is_taken_in_once_and_a_base_never_goes_back(drafts, workflow_id):
    doc = new_doc(DOCUMENT)
    await drafts.create(workflow_id, doc.get_update(), 1)
    updates = changes(doc)
    doc.get("meta", type=Map)["name"] = "version 2"
    assert await drafts.take(workflow_id, updates[0], 2)
    assert not await drafts.take(workflow_id, updates[0], 2)  # another process's try
    await drafts.set_base(workflow_id, 1)
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert (stored.base_version, list(stored.updates)) == (2, updates)
    assert await drafts.take(workflow_id, None, 3)  # nothing differs: only the base moves
    await drafts.set_base(workflow_id, 4)
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert (stored.base_version, len(stored.updates)) == (4, 1)


async def test_the_draft_goes_with_its_workflow(db, drafts, workflow_id):
    await drafts.create(workflow_id, new_doc(DOCUMENT).get_update(), 1)
    await drafts.append(workflow_id, b"\x00\x00")
    assert await WorkflowRepository(db).delete(workflow_id)
    assert await drafts.load(workflow_id) is None
    assert await updates_of(db, workflow_id) == 0
    with pytest.raises(NotFound):
        await drafts.append(workflow_id, b"\x00\x00")
    with pytest.raises(NotFound):
        await drafts.compact(workflow_id, fold)
    with pytest.raises(NotFound):
        await drafts.create(workflow_id, b"\x00\x00", 1)
    assert not await drafts.take(workflow_id, b"\x00\x00", 2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_compaction_keeps_an_update_committed_while_it_ran(db, drafts, workflow_id):
    doc = new_doc(DOCUMENT)
    await drafts.create(workflow_id, doc.get_update(), 1)
    updates = changes(doc)
    doc.get("meta", type=Map)["name"] = "written by another process"
    doc.get("meta", type=Map)["description"] = "written here"
    async with db.engine.connect() as other:  # another process: its row has the lower id
        await other.execute(
            insert(CollabUpdateRow).values(
                workflow_id=workflow_id, data=updates[0], created_at=utcnow()
            )
        )
        await drafts.append(workflow_id, updates[1])
        await drafts.compact(workflow_id, fold)  # sees the second only
        await other.commit()
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert list(stored.updates) == [updates[0]]
    assert read_document(replay(stored)) == read_document(doc)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_no_version_is_taken_in_while_the_draft_is_saved(drafts, workflow_id):
    await drafts.create(workflow_id, new_doc(DOCUMENT).get_update(), 1)
    async with drafts.saving(workflow_id):
        taking = asyncio.ensure_future(drafts.take(workflow_id, b"\x00\x00", 2))
        await asyncio.sleep(0.3)
        assert not taking.done()  # it waits for the save
        await drafts.set_base(workflow_id, 2)  # the version saved from the draft
    assert await taking is False
    stored = await drafts.load(workflow_id)
    assert stored is not None
    assert (stored.base_version, list(stored.updates)) == (2, [])
