"""Retention: old executions go with their data and events, and SQLite gives the space back."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update

from tav.app.server import Server
from tav.core.events import utcnow
from tav.storage.executions import new_execution
from tav.storage.models import AICacheRow, EventRow, ExecutionDataRow, ExecutionRow, NodeRunRow

DAY = timedelta(days=1)


async def add_executions(
    server: Server, count: int, *, age: timedelta, status: str = "succeeded", blob: int = 4096
) -> list[str]:
    """``count`` executions started ``age`` ago and after, one second apart, with a blob of
    ``blob`` incompressible bytes and a hot event and node row each."""
    start = utcnow() - age
    executions, data, events, nodes = [], [], [], []
    for i in range(count):
        execution_id = os.urandom(16).hex()
        execution, row = new_execution(
            execution_id,
            workflow="old",
            workflow_id=None,
            workflow_version=None,
            mode="api",
            input={"i": i},
        )
        execution.update(status=status, started_at=start + timedelta(seconds=i))
        executions.append(execution)
        data.append({**row, "result": os.urandom(blob)})
        events.append({"execution_id": execution_id, "seq": 1, "data": "{}"})
        nodes.append({"execution_id": execution_id, "node_id": "n", "data": b"{}"})
    async with server.parts.db.transaction() as session:
        for model, rows in (
            (ExecutionRow, executions),
            (ExecutionDataRow, data),
            (EventRow, events),
            (NodeRunRow, nodes),
        ):
            await session.execute(insert(model), rows)
    return [execution["id"] for execution in executions]


async def counts(server: Server) -> dict[str, int]:
    async with server.parts.db.session() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)))
            for model in (ExecutionRow, ExecutionDataRow, EventRow, NodeRunRow)
        }


async def kept(server: Server) -> set[str]:
    async with server.parts.db.session() as session:
        return set(await session.scalars(select(ExecutionRow.id)))


async def test_prune_by_age_takes_data_and_events_along(server: Server):
    old = await add_executions(server, 30, age=10 * DAY)
    running = await add_executions(server, 5, age=10 * DAY, status="running")
    recent = await add_executions(server, 20, age=DAY / 2)
    removed = await server.parts.executions.prune(max_age=5 * DAY, max_count=None)
    assert removed == len(old)
    assert await kept(server) == set(running) | set(recent)
    assert await counts(server) == dict.fromkeys(
        ("executions", "execution_data", "execution_events", "node_runs"), 25
    )


async def test_prune_by_count_keeps_the_newest_finished(server: Server):
    older = await add_executions(server, 1200, age=3 * DAY)  # more than one chunk
    running = await add_executions(server, 3, age=2 * DAY, status="running")
    newest = await add_executions(server, 40, age=DAY)
    removed = await server.parts.executions.prune(max_age=None, max_count=50)
    assert removed == len(older) - 10
    assert await kept(server) == set(older[-10:]) | set(running) | set(newest)
    assert (await counts(server))["execution_events"] == 53


async def test_server_prune_follows_the_settings(server: Server):
    await add_executions(server, 10, age=30 * DAY)
    await add_executions(server, 10, age=DAY)
    server.settings = server.settings.model_copy(
        update={"retention_max_age_days": 14, "retention_max_count": 5}
    )
    assert await server.prune() == 15
    assert len(await kept(server)) == 5
    assert await server.prune() == 0


async def test_sqlite_gives_the_space_back(server: Server):
    if not server.parts.db.is_sqlite:
        return
    path = server.settings.data_dir / "tav.db"
    async with server.parts.db.engine.connect() as connection:
        assert await connection.scalar(text("PRAGMA auto_vacuum")) == 2  # incremental
    await add_executions(server, 2000, age=30 * DAY)
    await add_executions(server, 100, age=DAY)
    full = await _size_after_checkpoint(server, path)
    assert full > 8_000_000
    server.settings = server.settings.model_copy(update={"retention_max_age_days": 14})
    assert await server.prune() == 2000
    shrunk = os.path.getsize(path)  # noqa: ASYNC240
    assert shrunk < full / 5, (full, shrunk)
    assert len(await kept(server)) == 100


async def _size_after_checkpoint(server: Server, path: Any) -> int:
    async with server.parts.db.engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)  # noqa: ASYNC240


async def test_cached_model_answers_past_their_age_are_neither_reused_nor_kept(server: Server):
    cache = server.parts.ai_cache
    assert cache.max_age == timedelta(days=30)  # the default TAV_AI_CACHE_MAX_AGE_DAYS
    await cache.put("old", provider="openai", model="m", response=b"{}")
    await cache.put("new", provider="openai", model="m", response=b"{}")
    async with server.parts.db.transaction() as session:
        await session.execute(
            update(AICacheRow).where(AICacheRow.key == "old").values(created_at=utcnow() - 40 * DAY)
        )
    assert await cache.get("old") is None
    assert await cache.get("new") == b"{}"
    assert await server.prune() == 0  # no executions went, but the old answer did
    assert await cache.count() == 1
