"""The rooms' relay between API processes over PostgreSQL (``tav.storage.collab_relay``),
with two relays on one database standing for two processes: an update kept by one is
heard by the other (inline, or by reference when large), never by its sender; awareness
goes across whole, however large; a broken connection comes back and tells the rooms."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from tav.storage.collab import DraftRepository
from tav.storage.collab_relay import DraftRelay
from tav.storage.db import Database
from tav.storage.workflows import WorkflowRepository
from tests.unit.storage.databases import migrated


class Heard:
    """What a room of one process hears (``tav.collab.ports.Hearing``)."""

    def __init__(self) -> None:
        self.updates: list[tuple[int, bytes | None]] = []
        self.awareness_updates: list[bytes] = []
        self.queries = 0
        self.losses = 0
        self.changed = asyncio.Event()

    def update(self, row_id: int, update: bytes | None) -> None:
        self.updates.append((row_id, update))
        self.changed.set()

    def awareness(self, update: bytes) -> None:
        self.awareness_updates.append(update)
        self.changed.set()

    def query(self) -> None:
        self.queries += 1
        self.changed.set()

    def lost(self) -> None:
        self.losses += 1
        self.changed.set()

    async def until(self, check: Any, within_s: float = 5) -> None:
        async with asyncio.timeout(within_s):
            while not check():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    async with migrated(postgres_url, empty="workflows CASCADE") as database:
        yield database


@pytest.fixture
async def relays(db: Database) -> AsyncIterator[tuple[DraftRelay, DraftRelay]]:
    first, second = DraftRelay(db, check_s=0.5, retry_s=0.1), DraftRelay(db, check_s=0.5)
    yield first, second
    await first.aclose()
    await second.aclose()


@pytest.fixture
async def workflow_id(db: Database) -> str:
    return (await WorkflowRepository(db).create({"schema": 1, "name": "w", "nodes": []})).id


async def test_an_update_kept_by_one_process_is_heard_by_the_other_only(db, relays, workflow_id):
    here, there = relays
    drafts = DraftRepository(db, here)
    heard_here, heard_there = Heard(), Heard()
    await here.join(workflow_id, heard_here)
    await there.join(workflow_id, heard_there)
    await drafts.create(workflow_id, b"\x00\x00", 1)
    small = await drafts.append(workflow_id, b"\x01" * 100)
    large_update = os.urandom(6000)
    large = await drafts.append(workflow_id, large_update)
    await heard_there.until(lambda: len(heard_there.updates) == 2)
    assert heard_there.updates == [(small, b"\x01" * 100), (large, None)]
    assert await drafts.fetch(workflow_id, large) == large_update
    assert await drafts.take(workflow_id, b"\x02", 2)
    await heard_there.until(lambda: len(heard_there.updates) == 3)
    await asyncio.sleep(0.2)
    assert heard_here.updates == []  # its own: never heard back

    await there.leave(workflow_id, heard_there)
    await drafts.append(workflow_id, b"\x03")
    await asyncio.sleep(0.3)
    assert len(heard_there.updates) == 3


async def test_awareness_goes_across_whole_and_a_room_that_opens_asks_for_it(relays, workflow_id):
    here, there = relays
    heard = Heard()
    await there.join(workflow_id, heard)
    small, large = b"\x01\x02\x03", os.urandom(20_000)  # 20 kB: in four parts
    await here.awareness(workflow_id, small)
    await here.awareness(workflow_id, large)
    await here.query(workflow_id)
    await heard.until(lambda: len(heard.awareness_updates) == 2 and heard.queries == 1)
    assert heard.awareness_updates == [small, large]


async def test_a_broken_connection_comes_back_and_the_rooms_read_their_drafts(
    db, relays, workflow_id
):
    here, there = relays
    drafts = DraftRepository(db, there)
    heard = Heard()
    await here.join(workflow_id, heard)
    await drafts.create(workflow_id, b"\x00\x00", 1)
    async with db.engine.begin() as connection:
        ended = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'tav collab relay' AND datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        )
    assert ended == 1  # only `here` had a connection: `there` has sent nothing yet
    await heard.until(lambda: heard.losses == 1)
    row = await drafts.append(workflow_id, b"\x01")  # listened to again
    await heard.until(lambda: heard.updates == [(row, b"\x01")])
