"""The trigger leader's lock on PostgreSQL: one holder at a time, lost at once when its
session ends, lost after ``timeout_s`` when its holder falls silent, named by ``holder``."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tav.storage.db import Database
from tav.storage.leadership import AdvisoryLock


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    yield database
    await database.close()


@pytest.fixture
def key() -> int:
    """A lock of the test's own (the session's database is shared with servers)."""
    return secrets.randbits(62)


async def terminate(db: Database, name: str) -> bool:
    async with db.engine.connect() as connection:
        ended = await connection.scalar(
            text(
                "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": f"tav {name}"},
        )
    return bool(ended)


async def test_one_process_holds_the_lock_and_the_next_takes_it_once_released(
    db: Database, key: int
):
    first = AdvisoryLock(db, name="a:1", key=key)
    second = AdvisoryLock(db, name="b:2", key=key)
    try:
        assert await first.holder() is None
        assert await first.acquire() is True
        assert await second.acquire() is False
        assert await second.holder() == "a:1"
        await first.release()
        assert await second.acquire() is True
        assert await first.holder() == "b:2"
    finally:
        await first.release()
        await second.release()


async def test_a_holder_whose_session_ends_learns_it_at_once_and_another_takes_over(
    db: Database, key: int
):
    first = AdvisoryLock(db, name="a:3", key=key, check_s=5, timeout_s=20)
    second = AdvisoryLock(db, name="b:4", key=key)
    try:
        assert await first.acquire() is True
        lost = asyncio.create_task(first.lost())
        await asyncio.sleep(0.1)
        assert not lost.done()
        began = time.monotonic()
        assert await terminate(db, "a:3")
        async with asyncio.timeout(2):
            await lost  # told by the connection's end, not by the next check 5 s later
        assert time.monotonic() - began < 1
        assert await second.acquire() is True
        assert await first.acquire() is False  # it may try again, and follows
    finally:
        await first.release()
        await second.release()


async def test_a_silent_holder_loses_the_lock_after_its_timeout(db: Database, key: int):
    frozen = AdvisoryLock(db, name="a:5", key=key, timeout_s=1)
    second = AdvisoryLock(db, name="b:6", key=key)
    try:
        assert await frozen.acquire() is True
        # The holder asks nothing (a frozen process): PostgreSQL ends its session.
        await asyncio.sleep(0.5)
        assert await second.acquire() is False
        for _ in range(50):  # at most 5 s
            if await second.acquire():
                break
            await asyncio.sleep(0.1)
        assert await second.holder() == "b:6"
        async with asyncio.timeout(2):
            await frozen.lost()  # once it runs again, it learns it at once
    finally:
        await frozen.release()
        await second.release()


async def test_a_live_holder_keeps_the_lock_past_its_timeout(db: Database, key: int):
    holder = AdvisoryLock(db, name="a:7", key=key, check_s=0.2, timeout_s=1)
    second = AdvisoryLock(db, name="b:8", key=key)
    try:
        assert await holder.acquire() is True
        lost = asyncio.create_task(holder.lost())
        await asyncio.sleep(2.5)
        assert not lost.done()
        assert await second.acquire() is False
        lost.cancel()
    finally:
        await holder.release()
        await second.release()


async def test_a_database_out_of_reach_means_not_leading_rather_than_an_error():
    away = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        lock = AdvisoryLock(away, name="a:9", timeout_s=2)
        assert await lock.acquire() is False
        assert await lock.acquire() is False
    finally:
        await away.close()
