"""The one writer: persists node results and events as they happen, in batches.

The engine never waits for the disk: ``publish`` and the ``ExecutionStore`` methods only
enqueue. A single task drains the queue and writes everything that has accumulated in one
transaction, so under load many nodes and events share one commit (and SQLite sees one
writer, never lock contention between executions). ``flush()`` waits until everything
enqueued so far is committed.

When an execution finishes, its hot rows (node results, events) are folded into one
compressed ``execution_data.result`` blob and deleted, in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tav.core.events import Event, event_to_dict
from tav.core.results import ExecutionResult, NodeResult
from tav.storage import codec
from tav.storage.db import Database
from tav.storage.models import (
    EventRow,
    ExecutionDataRow,
    ExecutionRow,
    NodeRunRow,
)
from tav.storage.upsert import upsert

logger = logging.getLogger("tav.storage")
BATCH_MAX = 2000


@dataclass
class _Batch:
    started: list[ExecutionResult] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    last_seq: dict[str, int] = field(default_factory=dict)
    nodes: dict[tuple[str, str], NodeResult] = field(default_factory=dict)
    finished: list[ExecutionResult] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class ExecutionWriter:
    """``ExecutionStore`` and event sink backed by the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tav execution writer")

    async def close(self) -> None:
        """Write what is pending, then stop; later updates are dropped (an execution still
        running then resumes on the next start from what was written)."""
        if self._task is None:
            return
        await self.flush()
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def flush(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(("flush", waiter))
        await waiter

    # -- the engine's side (enqueue only) ----------------------------------------------

    def publish(self, event: Event) -> None:
        self._put("event", event)

    async def execution_started(self, result: ExecutionResult) -> None:
        self._put("started", result)

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        self._put("node", (execution_id, result))

    async def execution_finished(self, result: ExecutionResult) -> None:
        self._put("finished", result)

    def _put(self, kind: str, payload: Any) -> None:
        if not self._closed:
            self._queue.put_nowait((kind, payload))

    # -- the writer task ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = self._collect([await self._queue.get()])
            try:
                await self._write(batch)
            except Exception:
                logger.exception("could not persist %d execution updates", len(batch.events))
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _collect(self, first: list[tuple[str, Any]]) -> _Batch:
        batch = _Batch()
        ops = first
        while len(ops) < BATCH_MAX and not self._queue.empty():
            ops.append(self._queue.get_nowait())
        for kind, payload in ops:
            if kind == "event":
                batch.events.append(_event_row(payload))
                batch.last_seq[payload.execution_id] = payload.seq
            elif kind == "node":
                execution_id, result = payload
                batch.nodes[(execution_id, result.node_id)] = result
            elif kind == "started":
                batch.started.append(payload)
            elif kind == "finished":
                batch.finished.append(payload)
            else:
                batch.waiters.append(payload)
        return batch

    async def _write(self, batch: _Batch) -> None:
        if not (batch.started or batch.events or batch.nodes or batch.finished):
            return
        async with self.db.transaction() as session:
            dialect = self.db.dialect
            for result in batch.started:
                await _started(session, dialect, result)
            if batch.nodes:
                rows = [_node_row(eid, result) for (eid, _), result in batch.nodes.items()]
                keys = ("execution_id", "node_id")
                await session.execute(upsert(dialect, NodeRunRow, keys, ("data",)), rows)
            if batch.events:
                keys = ("execution_id", "seq")
                await session.execute(upsert(dialect, EventRow, keys), batch.events)
            for execution_id, seq in batch.last_seq.items():
                await session.execute(
                    update(ExecutionRow).where(ExecutionRow.id == execution_id).values(last_seq=seq)
                )
            for result in batch.finished:
                await _archive(session, dialect, result)


def _event_row(event: Event) -> dict[str, Any]:
    data = codec.dumps(event_to_dict(event))
    return {"execution_id": event.execution_id, "seq": event.seq, "data": data}


def _node_row(execution_id: str, result: NodeResult) -> dict[str, Any]:
    data = codec.pack(result.model_dump(mode="json"))
    return {"execution_id": execution_id, "node_id": result.node_id, "data": data}


async def _started(session: AsyncSession, dialect: str, result: ExecutionResult) -> None:
    row = {
        "id": result.execution_id,
        "workflow_name": result.workflow[:200],
        "status": result.status.value,
        "mode": "subworkflow" if result.parent_execution_id else "cli",
        "parent_id": result.parent_execution_id,
        "started_at": result.started_at,
        "last_seq": 0,
    }
    await session.execute(upsert(dialect, ExecutionRow, ("id",), ("status",)), [row])


async def _archive(session: AsyncSession, dialect: str, result: ExecutionResult) -> None:
    """Fold the hot rows of a finished execution into its compressed result blob."""
    execution_id = result.execution_id
    events = (
        await session.scalars(
            select(EventRow.data)
            .where(EventRow.execution_id == execution_id)
            .order_by(EventRow.seq)
        )
    ).all()
    blob = codec.pack(
        {
            "output": result.output,
            "nodes": {nid: n.model_dump(mode="json") for nid, n in result.nodes.items()},
            "events": [codec.loads(e) for e in events],
        }
    )
    await session.execute(
        update(ExecutionRow)
        .where(ExecutionRow.id == execution_id)
        .values(
            status=result.status.value,
            finished_at=result.finished_at,
            duration_ms=result.duration_ms,
            error=result.error.model_dump() if result.error else None,
        )
    )
    await session.execute(
        upsert(dialect, ExecutionDataRow, ("execution_id",), ("result",)),
        [{"execution_id": execution_id, "result": blob}],
    )
    await session.execute(delete(NodeRunRow).where(NodeRunRow.execution_id == execution_id))
    await session.execute(delete(EventRow).where(EventRow.execution_id == execution_id))
