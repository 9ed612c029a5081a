"""What the writer keeps of an execution recorded to keep less than all of a success
(``keep``): a summary, or only a count; its node results and events are held in memory
until it ends, dropped if it succeeds, written in full if it does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tav.core.events import (
    Event,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    NodeCompleted,
    NodeFailed,
    utcnow,
)
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.workflow import KeepSuccesses
from tav.storage.db import Database
from tav.storage.executions import ExecutionRepository, new_execution
from tav.storage.models import EventRow, ExecutionDataRow, ExecutionRow, NodeRunRow
from tav.storage.workflows import WorkflowRepository
from tav.storage.writer import COLD_GRACE_S, COUNT_EVERY_S, ExecutionWriter
from tests.unit.storage.databases import migrated

BOOM = ErrorInfo(type="boom", message="node 'b' failed: boom")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with migrated(database_url, empty="executions, workflows CASCADE") as database:
        yield database


@pytest.fixture
async def writer(db: Database) -> AsyncIterator[ExecutionWriter]:
    writer = ExecutionWriter(db)
    writer.start()
    yield writer
    await writer.close()


@pytest.fixture
async def workflow_id(db: Database) -> str:
    document = {"schema": 1, "name": "hook", "nodes": [], "edges": []}
    return (await WorkflowRepository(db).create(document)).id


class Run:
    """One execution of two nodes (``a``, then ``b``) as the engine hands it over."""

    def __init__(
        self,
        writer: ExecutionWriter,
        execution_id: str,
        workflow_id: str | None,
        keep: KeepSuccesses,
        *,
        parent: str | None = None,
    ) -> None:
        self.writer, self.id, self.parent = writer, execution_id, parent
        self.started_at = utcnow()
        self.seq = 0
        if parent is None:  # a sub-execution is recorded by its start, not by a caller
            execution, data = new_execution(
                execution_id,
                workflow="hook",
                workflow_id=workflow_id,
                workflow_version=1,
                mode="webhook",
                input={"n": 1},
            )
            self.recorded = writer.record(execution, data, keep=keep)
        self.nodes: dict[str, NodeResult] = {}

    def _event(self, make: Any, **fields: Any) -> None:
        self.seq += 1
        event: Event = make(seq=self.seq, execution_id=self.id, **fields)
        self.writer.publish(event)

    async def start(self) -> None:
        self._event(ExecutionStarted, workflow="hook", parent_execution_id=self.parent)
        await self.writer.execution_started(self.result(ExecutionStatus.RUNNING))

    async def settle(self, node_id: str, *, fail: bool = False) -> None:
        if fail:
            result = NodeResult(node_id=node_id, status=NodeStatus.FAILED, attempts=1, error=BOOM)
            self._event(NodeFailed, node_id=node_id, attempts=1, error=BOOM)
        else:
            outputs = {"output": {"from": node_id}}
            result = NodeResult(
                node_id=node_id, status=NodeStatus.SUCCEEDED, attempts=1, outputs=outputs
            )
            self._event(NodeCompleted, node_id=node_id, attempts=1, ports=["output"])
        self.nodes[node_id] = result
        await self.writer.node_settled(self.id, result)

    async def finish(self, status: ExecutionStatus = ExecutionStatus.SUCCEEDED) -> None:
        failed = status is ExecutionStatus.FAILED
        if failed:
            self._event(ExecutionFailed, status=status, error=BOOM, duration_ms=1.0)
        else:
            self._event(ExecutionCompleted, status=status, duration_ms=1.0)
        await self.writer.execution_finished(self.result(status, BOOM if failed else None))

    async def run(self, *, fail: bool = False) -> None:
        """The whole execution, handed over at once (it fits in one batch)."""
        await self.start()
        await self.settle("a")
        await self.settle("b", fail=fail)
        await self.finish(ExecutionStatus.FAILED if fail else ExecutionStatus.SUCCEEDED)

    def result(self, status: ExecutionStatus, error: ErrorInfo | None = None) -> ExecutionResult:
        done = status.is_terminal
        return ExecutionResult(
            execution_id=self.id,
            workflow="hook",
            status=status,
            error=error,
            started_at=self.started_at,
            finished_at=utcnow() if done else None,
            duration_ms=1.0 if done else None,
            output={"from": "b"} if status is ExecutionStatus.SUCCEEDED else None,
            nodes=dict(self.nodes),
            parent_execution_id=self.parent,
        )


def _id(n: int, prefix: str = "e") -> str:
    return f"{prefix}{n:031d}"


async def _rows(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _hot_rows(db: Database) -> tuple[int, int]:
    return await _rows(db, NodeRunRow), await _rows(db, EventRow)


async def test_successes_kept_as_a_count_store_nothing_but_the_count(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    runs = [Run(writer, _id(n), workflow_id, "count") for n in range(5)]
    for run in runs:
        await run.run()
    await writer.flush()

    assert await _rows(db, ExecutionRow) == 0
    assert await _rows(db, ExecutionDataRow) == 0
    assert await _hot_rows(db) == (0, 0)
    for run in runs:
        assert run.recorded.done()
        assert run.recorded.exception() is None
    count, last = await ExecutionRepository(db).not_kept(workflow_id)
    assert count == 5
    assert last is not None
    assert last >= runs[0].started_at
    assert await ExecutionRepository(db).not_kept() == (5, last)
    assert await ExecutionRepository(db).get(runs[0].id) is None


async def test_the_count_adds_up_across_batches(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    for n in range(3):
        await Run(writer, _id(n), workflow_id, "count").run()
        await writer.flush()
    assert (await ExecutionRepository(db).not_kept(workflow_id))[0] == 3
    assert await ExecutionRepository(db).not_kept("0" * 32) == (0, None)


async def test_a_success_kept_as_a_summary_keeps_its_row_and_input_only(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "summary")
    await run.run()
    await writer.flush()

    repository = ExecutionRepository(db)
    record = await repository.get(run.id)
    assert record is not None
    assert record.status is ExecutionStatus.SUCCEEDED
    assert record.finished_at is not None
    assert record.duration_ms == 1.0
    assert record.input == {"n": 1}
    assert (record.output, record.nodes, record.kept) == (None, {}, "summary")
    assert record.to_json()["kept"] == "summary"
    assert await repository.events(run.id) == []
    assert await _hot_rows(db) == (0, 0)
    assert (await repository.not_kept(workflow_id))[0] == 0


@pytest.mark.parametrize("keep", ["count", "summary"])
async def test_a_failure_is_stored_in_full_whatever_is_kept_of_successes(
    writer: ExecutionWriter, db: Database, workflow_id: str, keep: KeepSuccesses
):
    run = Run(writer, _id(1), workflow_id, keep)
    await run.run(fail=True)
    await writer.flush()

    repository = ExecutionRepository(db)
    record = await repository.get(run.id)
    assert record is not None
    assert record.status is ExecutionStatus.FAILED
    assert record.kept == "all"
    assert record.input == {"n": 1}
    assert set(record.nodes) == {"a", "b"}
    assert record.nodes["a"].outputs == {"output": {"from": "a"}}
    assert record.nodes["b"].error == BOOM
    types = [event["type"] for event in await repository.events(run.id)]
    assert types == ["execution.started", "node.completed", "node.failed", "execution.failed"]
    assert (await repository.not_kept(workflow_id))[0] == 0


async def test_a_long_execution_writes_no_node_results_or_events_while_it_runs(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "count")
    await run.start()
    await run.settle("a")
    await writer.flush()  # the batch is written before the execution ends

    repository = ExecutionRepository(db)
    running = await repository.get(run.id)
    assert running is not None
    assert running.status is ExecutionStatus.RUNNING
    assert running.nodes == {}
    assert await _hot_rows(db) == (0, 0)

    await run.settle("b")
    await run.finish()
    await writer.flush()
    assert await repository.get(run.id) is None  # its row went with its success
    assert await _rows(db, ExecutionDataRow) == 0
    assert (await repository.not_kept(workflow_id))[0] == 1


async def test_a_long_execution_that_fails_is_written_with_what_it_held_back(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "count")
    await run.start()
    await run.settle("a")
    await writer.flush()
    await run.settle("b", fail=True)
    await run.finish(ExecutionStatus.FAILED)
    await writer.flush()

    repository = ExecutionRepository(db)
    record = await repository.get(run.id)
    assert record is not None
    assert record.status is ExecutionStatus.FAILED
    assert set(record.nodes) == {"a", "b"}
    assert [e["seq"] for e in await repository.events(run.id)] == [1, 2, 3, 4]
    assert await _hot_rows(db) == (0, 0)


async def test_a_long_execution_kept_as_a_summary_ends_as_one(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "summary")
    await run.start()
    await writer.flush()
    await run.settle("a")
    await run.settle("b")
    await run.finish()
    await writer.flush()

    record = await ExecutionRepository(db).get(run.id)
    assert record is not None
    assert (record.status, record.kept, record.nodes) == (ExecutionStatus.SUCCEEDED, "summary", {})
    assert record.input == {"n": 1}


async def test_a_sub_execution_keeps_what_its_parent_keeps(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    parent = Run(writer, _id(1), workflow_id, "count")
    await parent.start()
    await writer.flush()
    child = Run(writer, _id(2, "c"), None, "all", parent=parent.id)
    await child.run()
    failing = Run(writer, _id(3, "c"), None, "all", parent=parent.id)
    await failing.run(fail=True)
    await writer.flush()

    repository = ExecutionRepository(db)
    assert await repository.get(child.id) is None
    kept = await repository.get(failing.id)
    assert kept is not None
    assert kept.status is ExecutionStatus.FAILED
    assert kept.parent_execution_id == parent.id
    assert set(kept.nodes) == {"a", "b"}


async def test_everything_is_kept_by_default(writer: ExecutionWriter, db: Database):
    run = Run(writer, _id(1), None, "all")
    await run.start()
    await run.settle("a")
    await writer.flush()
    assert await _hot_rows(db) == (1, 2)

    await run.settle("b")
    await run.finish()
    await writer.flush()
    record = await ExecutionRepository(db).get(run.id)
    assert record is not None
    assert (record.kept, set(record.nodes), record.output) == ("all", {"a", "b"}, {"from": "b"})
    assert "kept" not in record.to_json()


async def test_a_short_cold_execution_that_straddles_batches_is_never_written(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    cold = Run(writer, _id(1), workflow_id, "count")
    await cold.start()
    await cold.settle("a")
    other = Run(writer, _id(2), workflow_id, "all")
    await other.run()
    await writer.flush(other.id)  # a batch is written while the cold one runs

    assert await _rows(db, ExecutionRow) == 1  # the other one only
    assert not cold.recorded.done()  # its record waits for its end, for a while
    await cold.settle("b")
    await cold.finish()
    await writer.flush(cold.id)

    assert cold.recorded.done()
    assert cold.recorded.exception() is None
    assert await ExecutionRepository(db).get(cold.id) is None
    await writer.flush()
    assert (await ExecutionRepository(db).not_kept(workflow_id))[0] == 1


async def test_a_cold_execution_still_running_after_the_grace_is_recorded_running(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "summary")
    await run.start()
    await run.settle("a")
    await asyncio.sleep(COLD_GRACE_S * 2)  # the writer wakes by itself after the grace
    await run.recorded

    record = await ExecutionRepository(db).get(run.id)
    assert record is not None
    assert record.status is ExecutionStatus.RUNNING
    assert await _hot_rows(db) == (0, 0)


async def test_counts_are_written_a_second_later_or_by_a_flush(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    runs = [Run(writer, _id(n), workflow_id, "count") for n in range(3)]
    for run in runs:
        await run.run()
    await writer.flush(runs[-1].id)  # their batch is done: no transaction was needed

    repository = ExecutionRepository(db)
    assert await repository.not_kept(workflow_id) == (0, None)  # not written yet
    pending, last = writer.not_kept(workflow_id)
    assert pending == 3
    assert last is not None
    assert writer.not_kept("0" * 32) == (0, None)

    await asyncio.sleep(COUNT_EVERY_S * 1.5)  # the writer wakes by itself to write them
    assert await repository.not_kept(workflow_id) == (3, last)
    assert writer.not_kept() == (0, None)


async def test_a_count_success_is_done_when_it_ends_without_waiting_for_a_batch(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "count")
    await run.start()
    await run.settle("a")
    assert not run.recorded.done()
    await run.settle("b")
    await run.finish()

    assert run.recorded.done()  # no batch has run since it started
    await asyncio.wait_for(writer.flush(run.id), 0.001)  # nothing to wait for
    await writer.flush()
    assert await ExecutionRepository(db).get(run.id) is None
    assert (await ExecutionRepository(db).not_kept(workflow_id))[0] == 1


async def test_a_failure_is_not_done_before_it_is_written(
    writer: ExecutionWriter, db: Database, workflow_id: str
):
    run = Run(writer, _id(1), workflow_id, "count")
    await run.run(fail=True)
    assert not run.recorded.done()
    await writer.flush(run.id)
    assert run.recorded.done()
    record = await ExecutionRepository(db).get(run.id)
    assert record is not None
    assert record.status is ExecutionStatus.FAILED
