"""Following an execution that waited: the store may lag behind the bus, holding events
up to ``execution.waiting`` when the execution has resumed since."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from tav.core.events import (
    Event,
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionWaiting,
    NodeCompleted,
    NodeWaiting,
)
from tav.core.modes import ExecutionMode
from tav.core.states import ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.storage import codec
from tav.storage.db import Database
from tav.storage.executions import ExecutionRepository
from tav.storage.models import EventRow, ExecutionRow
from tav.storage.watch import watch

ID = "e" * 32


def events() -> list[Event]:
    done = ExecutionStatus.SUCCEEDED
    return [
        ExecutionStarted(seq=1, execution_id=ID, workflow="w"),
        NodeWaiting(seq=2, execution_id=ID, node_id="ask", mode="approval"),
        ExecutionWaiting(seq=3, execution_id=ID, status=ExecutionStatus.WAITING, duration_ms=1),
        NodeCompleted(seq=4, execution_id=ID, node_id="ask", attempts=1, ports=["approved"]),
        ExecutionCompleted(seq=5, execution_id=ID, status=done, duration_ms=2),
    ]


@pytest.fixture
async def executions(tmp_path: Path) -> AsyncIterator[ExecutionRepository]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    await db.migrate()
    repository = ExecutionRepository(db)
    await repository.create(
        ID,
        workflow="w",
        workflow_id=None,
        workflow_version=None,
        mode=ExecutionMode.API,
        input=None,
    )
    yield repository
    await db.close()


async def stored(executions: ExecutionRepository, status: ExecutionStatus, upto: int) -> None:
    rows = [
        {"execution_id": ID, "seq": e.seq, "data": codec.model_bytes(e).decode()}
        for e in events()[:upto]
    ]
    async with executions.db.begin() as connection:
        if rows:
            await connection.execute(insert(EventRow), rows)
        await connection.execute(
            update(ExecutionRow).where(ExecutionRow.id == ID).values(status=status.value)
        )


async def test_a_watch_of_one_that_resumed_goes_past_the_park_the_store_still_ends_with(
    executions: ExecutionRepository,
) -> None:
    await stored(executions, ExecutionStatus.RUNNING, upto=3)  # resumed; the store lags
    bus = InMemoryBus()
    for event in events():
        bus.publish(event)
    seen = [event["seq"] async for event in watch(executions, bus, ID, poll_s=0.2)]
    assert seen == [1, 2, 3, 4, 5]


async def test_a_watch_of_one_that_still_waits_ends_at_its_park(
    executions: ExecutionRepository,
) -> None:
    await stored(executions, ExecutionStatus.WAITING, upto=3)
    seen = [event["seq"] async for event in watch(executions, InMemoryBus(), ID, poll_s=0.2)]
    assert seen == [1, 2, 3]


async def test_a_watch_that_finds_a_resumed_execution_on_the_bus_alone_goes_past_its_park(
    executions: ExecutionRepository,
) -> None:
    await stored(executions, ExecutionStatus.RUNNING, upto=0)  # nothing stored yet
    bus = InMemoryBus()
    for event in events():
        bus.publish(event)
    seen = [event["seq"] async for event in watch(executions, bus, ID, poll_s=0.2)]
    assert seen == [1, 2, 3, 4, 5]
