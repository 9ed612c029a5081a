"""The execution writer when a batch cannot be written: the executions that break it are
found and recorded as failed, everyone else's updates are committed, and ``flush`` and
``record`` tell the truth about what was stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tav.core.errors import NotStored
from tav.core.events import ExecutionStarted, NodeCompleted, utcnow
from tav.core.results import ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.storage.db import Database
from tav.storage.executions import ExecutionRepository, new_execution
from tav.storage.writer import ExecutionWriter
from tests.unit.storage.databases import migrated

UNSTORABLE = object()
"""A node output the JSON serializer refuses (as a template's ``namespace()`` would be)."""


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with migrated(database_url, empty="executions CASCADE") as database:
        yield database


@pytest.fixture
async def stopped() -> list[str]:
    """The executions the writer asked to stop."""
    return []


@pytest.fixture
async def writer(db: Database, stopped: list[str]) -> AsyncIterator[ExecutionWriter]:
    writer = ExecutionWriter(db, on_lost=stopped.append)
    writer.start()
    yield writer
    await writer.close()


class Run:
    """One execution as the engine hands it to the writer."""

    def __init__(self, writer: ExecutionWriter, execution_id: str, output: Any = "ok") -> None:
        self.writer, self.id, self.output = writer, execution_id, output
        execution, data = new_execution(
            execution_id,
            workflow="w",
            workflow_id=None,
            workflow_version=None,
            mode="api",
            input={},
        )
        self.recorded = writer.record(execution, data)

    async def start_and_settle(self) -> None:
        writer = self.writer
        writer.publish(ExecutionStarted(seq=1, execution_id=self.id, workflow="w"))
        await writer.execution_started(self.result(ExecutionStatus.RUNNING))
        writer.publish(
            NodeCompleted(seq=2, execution_id=self.id, node_id="n", attempts=1, ports=["output"])
        )
        await writer.node_settled(self.id, self.node())

    async def finish(self) -> None:
        await self.writer.execution_finished(self.result(ExecutionStatus.SUCCEEDED))

    def node(self) -> NodeResult:
        return NodeResult(
            node_id="n", status=NodeStatus.SUCCEEDED, attempts=1, outputs={"output": self.output}
        )

    def result(self, status: ExecutionStatus) -> ExecutionResult:
        done = status is not ExecutionStatus.RUNNING
        return ExecutionResult(
            execution_id=self.id,
            workflow="w",
            status=status,
            started_at=utcnow(),
            finished_at=utcnow() if done else None,
            output=self.output if done else None,
            nodes={"n": self.node()},
        )


async def _runs(writer: ExecutionWriter, outputs: dict[str, Any], *, finish: bool) -> list[Run]:
    """Hand over one batch: every run recorded, started, settled (and finished)."""
    runs = [Run(writer, execution_id, output) for execution_id, output in outputs.items()]
    for run in runs:
        await run.start_and_settle()
        if finish:
            await run.finish()
    return runs


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:030d}" for n in range(count)]


async def test_a_batch_with_an_unstorable_execution_stores_everyone_else(
    writer: ExecutionWriter, db: Database, stopped: list[str]
):
    good = _ids("a", 20)
    outputs: dict[str, Any] = dict.fromkeys(good, "ok")
    outputs["p" * 32] = UNSTORABLE
    runs = await _runs(writer, outputs, finish=True)

    with pytest.raises(NotStored):
        await writer.flush()  # something handed over was not stored
    await asyncio.gather(*(run.recorded for run in runs))  # all recorded (one as failed)
    repository = ExecutionRepository(db)
    for execution_id in good:
        await writer.flush(execution_id)
        record = await repository.get(execution_id)
        assert record is not None
        assert record.status is ExecutionStatus.SUCCEEDED
        assert record.output == "ok"
    with pytest.raises(NotStored) as raised:
        await writer.flush("p" * 32)
    assert raised.value.recorded
    poisoned = await repository.get("p" * 32)
    assert poisoned is not None
    assert poisoned.status is ExecutionStatus.FAILED
    assert poisoned.error is not None
    assert poisoned.error.type == "not_stored"
    assert "could not be stored" in poisoned.error.message
    assert poisoned.nodes["n"].status is NodeStatus.FAILED
    assert "its result could not be stored" in poisoned.nodes["n"].error.message  # type: ignore[union-attr]
    assert [e["type"] for e in await repository.events("p" * 32)] == [
        "execution.started",
        "node.completed",
    ]
    assert stopped == []  # it had finished


async def test_an_unstorable_running_execution_is_stopped_and_its_later_updates_dropped(
    writer: ExecutionWriter, db: Database, stopped: list[str]
):
    runs = await _runs(writer, {"a" * 32: "ok", "p" * 32: UNSTORABLE}, finish=False)
    await asyncio.gather(*(run.recorded for run in runs))
    assert stopped == ["p" * 32]
    for run in runs:
        await run.finish()
    await writer.flush("a" * 32)
    repository = ExecutionRepository(db)
    fine = await repository.get("a" * 32)
    assert fine is not None
    assert fine.status is ExecutionStatus.SUCCEEDED
    poisoned = await repository.get("p" * 32)
    assert poisoned is not None
    assert poisoned.status is ExecutionStatus.FAILED  # its end was not written over it
    assert poisoned.finished_at is not None


async def test_an_execution_that_cannot_be_recorded_even_as_failed_gets_the_error(
    writer: ExecutionWriter, db: Database, monkeypatch: pytest.MonkeyPatch
):
    async def refuse(*_: Any) -> None:
        raise ValueError("no")

    monkeypatch.setattr(ExecutionWriter, "_write_failed", refuse)
    fine, poisoned = await _runs(writer, {"a" * 32: "ok", "p" * 32: UNSTORABLE}, finish=True)
    await fine.recorded
    with pytest.raises(NotStored) as raised:
        await poisoned.recorded
    assert not raised.value.recorded
    repository = ExecutionRepository(db)
    assert await repository.get("p" * 32) is None
    record = await repository.get("a" * 32)
    assert record is not None
    assert record.status is ExecutionStatus.SUCCEEDED


async def test_flush_raises_when_the_database_takes_no_writes(
    writer: ExecutionWriter, monkeypatch: pytest.MonkeyPatch
):
    """Every execution is lost; the writer gives up after the first that cannot be recorded
    as failed either, rather than trying each of them in turn."""
    attempts = 0

    async def unavailable(*_: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(ExecutionWriter, "_write", unavailable)
    monkeypatch.setattr(ExecutionWriter, "_write_failed", unavailable)
    runs = await _runs(writer, dict.fromkeys(_ids("a", 64), "ok"), finish=True)
    with pytest.raises(NotStored, match="64 execution"):
        await writer.flush()
    for run in runs:
        with pytest.raises(NotStored):
            await run.recorded
    assert attempts <= 12


async def test_a_failed_commit_is_never_reported_as_stored(
    writer: ExecutionWriter, monkeypatch: pytest.MonkeyPatch
):
    """An execution recorded in an earlier batch: the batch with its end fails."""
    (run,) = await _runs(writer, {"a" * 32: "ok"}, finish=False)
    await run.recorded
    await writer.flush("a" * 32)

    async def refuse(*_: Any) -> None:
        raise OperationalError("UPDATE", {}, Exception("disk I/O error"))

    monkeypatch.setattr(ExecutionWriter, "_write", refuse)
    monkeypatch.setattr(ExecutionWriter, "_write_failed", refuse)
    await run.finish()
    with pytest.raises(NotStored):
        await writer.flush("a" * 32)
    with pytest.raises(NotStored):
        await writer.flush("a" * 32)  # and later too
