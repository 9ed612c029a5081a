"""Fixtures of the queue mode tests: a PostgreSQL database, a Redis server and a
deployment of the test's own, and a local HTTP server that counts side effects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL
from tests.integration.queue.cluster import Cluster, Redis


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A PostgreSQL database of the test's own."""
    name = f"tav_queue_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path / "redis.log")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def cluster(tmp_path: Path, database_url: str, redis: Redis) -> Iterator[Cluster]:
    made = Cluster(tmp_path, database_url, redis.url)
    yield made
    made.close()
    assert made.our_tracebacks() == [], made.logs()
