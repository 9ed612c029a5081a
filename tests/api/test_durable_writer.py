"""The execution writer and resuming, in process, on both databases.

A ``Server`` stopped with ``timeout_s=0`` leaves its running executions exactly as a killed
process would (nothing more is written after the stop); a second ``Server`` on the same
database then resumes them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError

from tav.app.root import build
from tav.app.server import Server
from tav.core.events import utcnow
from tav.core.results import ErrorInfo
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.settings import Settings
from tav.storage import writer
from tav.storage.executions import ExecutionRepository, new_execution
from tav.storage.models import EventRow, ExecutionRow, NodeRunRow
from tav.storage.workflows import StoredWorkflow
from tests.api.helpers import chain
from tests.helpers import document, node


@pytest.fixture
async def second(settings: Settings) -> AsyncIterator[list[Server]]:
    """Servers started later on the same database (as after a restart); stopped at the end."""
    started: list[Server] = []
    yield started
    for server in started:
        await server.stop(timeout_s=0)


async def restart(settings: Settings, started: list[Server]) -> Server:
    server = Server(
        build(settings, registry=NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES]))
    )
    started.append(server)
    await server.start(prune=False)
    return server


async def hot_rows(server: Server, execution_id: str) -> tuple[int, int]:
    async with server.parts.db.session() as session:
        nodes = await session.scalar(
            select(func.count()).where(NodeRunRow.execution_id == execution_id)
        )
        events = await session.scalar(
            select(func.count()).where(EventRow.execution_id == execution_id)
        )
    return int(nodes or 0), int(events or 0)


def check_numbered(events: list[dict[str, Any]]) -> None:
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "execution.started"


def types(events: list[dict[str, Any]], node_id: str) -> list[str]:
    return [e["type"] for e in events if e.get("node_id") == node_id]


async def test_a_short_execution_goes_straight_into_its_result(server: Server):
    handle = await server.parts.executions_service.run(chain(0, 0), {"n": 1})
    await handle.wait()
    await server.parts.writer.flush()
    record = await server.parts.executions.get(handle.execution_id)
    assert record is not None
    assert record.status.value == "succeeded"
    events = await server.parts.executions.events(handle.execution_id)
    check_numbered(events)
    assert events[-1]["type"] == "execution.completed"
    assert record.last_seq == len(events)
    assert await hot_rows(server, handle.execution_id) == (0, 0)


async def test_a_running_execution_is_stored_as_it_goes(server: Server):
    handle = await server.parts.executions_service.run(chain(0, 5), {})
    await _until_settled(server, handle.execution_id, "d1")
    nodes, events = await hot_rows(server, handle.execution_id)
    assert nodes >= 2  # start, d1
    record = await server.parts.executions.get(handle.execution_id)
    assert record is not None
    assert record.status.value == "running"
    assert record.last_seq == events
    check_numbered(await server.parts.executions.events(handle.execution_id))
    handle.cancel()
    await handle.wait()
    await server.parts.writer.flush()
    assert await hot_rows(server, handle.execution_id) == (0, 0)
    events_after = await server.parts.executions.events(handle.execution_id)
    check_numbered(events_after)
    assert events_after[-1]["type"] == "execution.cancelled"


async def test_a_restart_resumes_from_the_settled_nodes(
    server: Server, settings: Settings, second: list[Server]
):
    handle = await server.parts.executions_service.run(chain(0, 0.6, 0), {"n": 1})
    await _until_settled(server, handle.execution_id, "d1")
    await server.stop(timeout_s=0)  # as if killed: d2 is running, nothing more is stored

    again = await restart(settings, second)
    assert handle.execution_id in again.parts.executions_service.running
    result = await again.parts.executions_service.running[handle.execution_id].wait()
    assert result.status.value == "succeeded"
    await again.parts.writer.flush()
    events = await again.parts.executions.events(handle.execution_id)
    check_numbered(events)
    assert types(events, "d1") == ["node.started", "node.completed"]  # not run again
    assert types(events, "d2") == ["node.started", "node.started", "node.completed"]
    assert types(events, "d3") == ["node.started", "node.completed"]
    assert [e["type"] for e in events].count("execution.started") == 1
    assert await hot_rows(again, handle.execution_id) == (0, 0)


async def test_seq_goes_on_from_the_stored_events_even_if_last_seq_lags(
    server: Server, settings: Settings, second: list[Server]
):
    handle = await server.parts.executions_service.run(chain(0, 0.6), {})
    await _until_settled(server, handle.execution_id, "d1")
    await server.stop(timeout_s=0)
    async with server.parts.db.transaction() as session:  # a last_seq that missed some events
        await session.execute(
            update(ExecutionRow).where(ExecutionRow.id == handle.execution_id).values(last_seq=1)
        )
    again = await restart(settings, second)
    await again.parts.executions_service.running[handle.execution_id].wait()
    await again.parts.writer.flush()
    events = await again.parts.executions.events(handle.execution_id)
    check_numbered(events)
    record = await again.parts.executions.get(handle.execution_id)
    assert record is not None
    assert record.last_seq == len(events)


async def test_an_execution_recorded_but_never_started_starts_over(
    server: Server, settings: Settings, second: list[Server]
):
    execution_id = "0" * 32
    await ExecutionRepository(server.parts.db).create(
        execution_id,
        workflow="chain",
        workflow_id=None,
        workflow_version=None,
        mode="api",
        input={"n": 2},
        document=chain(0),
    )
    await server.stop(timeout_s=0)
    again = await restart(settings, second)
    result = await again.parts.executions_service.running[execution_id].wait()
    assert result.status.value == "succeeded"
    await again.parts.writer.flush()
    check_numbered(await again.parts.executions.events(execution_id))


async def test_interrupted_sub_executions_are_marked_failed_and_cli_runs_left_alone(
    server: Server, settings: Settings, second: list[Server]
):
    doc = document(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 5}),
        links=("start -> wait",),
    )
    cli = await server.parts.executions_service.run(doc, {}, mode="cli")
    await _until_started(server, cli.execution_id)
    async with server.parts.db.transaction() as session:
        session.add(_orphan(cli.execution_id))
    await server.stop(timeout_s=0)
    again = await restart(settings, second)
    assert cli.execution_id not in again.parts.executions_service.running
    orphan = await again.parts.executions.get("f" * 32)
    assert orphan is not None
    assert orphan.status.value == "failed"
    assert orphan.error == ErrorInfo(
        type="crashed", message="the process running it stopped; its parent runs it again"
    )
    left = await again.parts.executions.get(cli.execution_id)
    assert left is not None
    assert left.status.value == "running"


async def test_an_execution_deleted_while_running_does_not_stop_the_others(server: Server):
    doomed = await server.parts.executions_service.run(chain(0, 0.3), {})
    other = await server.parts.executions_service.run(chain(0, 0.3), {})
    await _until_settled(server, doomed.execution_id, "d1")
    assert await server.parts.executions.delete(doomed.execution_id)
    await doomed.wait()
    assert (await other.wait()).status.value == "succeeded"
    await server.parts.writer.flush()
    assert await server.parts.executions.get(doomed.execution_id) is None
    record = await server.parts.executions.get(other.execution_id)
    assert record is not None
    assert record.status.value == "succeeded"
    check_numbered(await server.parts.executions.events(other.execution_id))


async def test_a_short_execution_is_recorded_whole_in_one_transaction(
    server: Server, monkeypatch: pytest.MonkeyPatch
):
    # The writer waits for it to finish (at most BATCH_WINDOW_S): on a busy machine the
    # usual few ms might run out first.
    monkeypatch.setattr(writer, "BATCH_WINDOW_S", 30.0)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("SELECT"):
            statements.append(statement.split("(")[0].strip())

    def commit(_conn: Any) -> None:
        statements.append("COMMIT")

    engine = server.parts.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", commit)
    try:
        started = await server.parts.executions_service.start_run(noops(3), {"n": 1})
        await started.handle.wait()
        await server.parts.writer.flush()
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "commit", commit)
    assert statements == ["INSERT INTO executions", "INSERT INTO execution_data", "COMMIT"]
    stored = await server.parts.executions.get(started.handle.execution_id)
    assert stored is not None
    assert stored.status.value == "succeeded"
    assert set(stored.nodes) == {"start", "n1", "n2", "n3"}
    events = await server.parts.executions.events(started.handle.execution_id)
    check_numbered(events)
    assert stored.last_seq == len(events)


async def test_an_execution_that_cannot_be_recorded_fails_alone(server: Server):
    gone = StoredWorkflow(  # deleted since it was read: its row breaks a foreign key
        id="e" * 32,
        name="gone",
        description="",
        active=False,
        version=1,
        document=chain(0),
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    refused = await server.parts.executions_service.start_run(chain(0), {}, stored=gone)
    recorded = await server.parts.executions_service.start_run(chain(0), {})
    with pytest.raises(IntegrityError):
        await refused.recorded
    await recorded.recorded
    assert (await refused.handle.wait()).status.value in ("succeeded", "cancelled")
    assert (await recorded.handle.wait()).status.value == "succeeded"
    await server.parts.writer.flush()
    assert await server.parts.executions.get(refused.handle.execution_id) is None
    again = await server.parts.executions.get(recorded.handle.execution_id)
    assert again is not None
    assert again.status.value == "succeeded"


def noops(count: int) -> dict[str, Any]:
    ids = [f"n{i}" for i in range(1, count + 1)]
    nodes = [node("start", "trigger.manual"), *(node(i, "core.noop") for i in ids)]
    links = tuple(f"{a} -> {b}" for a, b in itertools.pairwise(["start", *ids]))
    return document(*nodes, links=links)


def _orphan(parent_id: str) -> ExecutionRow:
    execution, _ = new_execution(
        "f" * 32,
        workflow="sub",
        workflow_id=None,
        workflow_version=None,
        mode="subworkflow",
        input=None,
    )
    return ExecutionRow(**{**execution, "parent_id": parent_id, "status": "running"})


async def _until_settled(server: Server, execution_id: str, node_id: str) -> None:
    for _ in range(500):
        await server.parts.writer.flush()
        record = await server.parts.executions.get(execution_id)
        if record is not None and node_id in record.nodes:
            return
        await _pause()
    raise AssertionError(f"{node_id} never settled")


async def _until_started(server: Server, execution_id: str) -> None:
    for _ in range(500):
        await server.parts.writer.flush()
        if await server.parts.executions.events(execution_id):
            return
        await _pause()
    raise AssertionError("the execution never started")


async def _pause() -> None:
    await asyncio.sleep(0.01)
