"""The one writer: persists node results and events as they happen, in batches.

The engine never waits for the disk: ``publish`` and the ``ExecutionStore`` methods only
append to a list. A single task takes everything that has accumulated and writes it in one
transaction, so under load many nodes and events share one commit (and SQLite sees one
writer, never lock contention between executions). ``flush()`` waits until everything
handed over so far is committed.

While an execution runs, its settled nodes and its events go to two *hot* tables, and its
``last_seq`` moves in the same transaction as its events, so the two always agree. When it
finishes, its result and every event are folded into one compressed
``execution_data.result`` blob and the hot rows are deleted. The writer keeps each running
execution's events (as JSON) in memory, so the blob is built without reading them back; only
an execution resumed from an earlier process has stored events it never saw, and those are
read once, when it finishes. An execution that starts and finishes within one batch never
touches the hot tables at all.

Rejected: a row per event in a single table kept forever (the listing and the file grow
with every event), and writing from the engine's task (every node would wait for a commit).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tav.core.events import Event
from tav.core.results import ExecutionResult, NodeResult
from tav.storage import codec
from tav.storage.db import Database
from tav.storage.models import EventRow, ExecutionDataRow, ExecutionRow, NodeRunRow
from tav.storage.upsert import upsert

logger = logging.getLogger("tav.storage")
EXECUTIONS: Table = ExecutionRow.__table__  # type: ignore[assignment]
_FINISH = (
    EXECUTIONS.update()
    .where(EXECUTIONS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("status"),
        finished_at=bindparam("finished_at"),
        duration_ms=bindparam("duration_ms"),
        error=bindparam("error"),
        last_seq=bindparam("last_seq"),
    )
)
_LAST_SEQ = (
    EXECUTIONS.update()
    .where(EXECUTIONS.c.id == bindparam("b_id"))
    .values(last_seq=bindparam("last_seq"))
)


@dataclass
class _Journal:
    """What the writer holds of one unfinished execution."""

    events: dict[int, str] = field(default_factory=dict)
    """JSON of each event this process published for it, by seq."""
    hot: bool = False
    """Some of its rows are in the hot tables (written by this process or an earlier one)."""
    resumed: bool = False
    """An earlier process ran it: events are stored that are not in ``events``."""


_Created = tuple[dict[str, Any], dict[str, Any], asyncio.Future[None]]


@dataclass
class _Batch:
    created: list[_Created] = field(default_factory=list)
    started: dict[str, ExecutionResult] = field(default_factory=dict)
    events: dict[str, dict[int, str]] = field(default_factory=dict)
    nodes: dict[str, dict[str, NodeResult]] = field(default_factory=dict)
    finished: dict[str, ExecutionResult] = field(default_factory=dict)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.created or self.started or self.events or self.nodes or self.finished)

    def drop(self, execution_ids: Iterable[str]) -> None:
        for execution_id in execution_ids:
            for part in (self.started, self.events, self.nodes, self.finished):
                part.pop(execution_id, None)


class ExecutionWriter:
    """``ExecutionStore`` and event sink backed by the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ops: list[tuple[str, Any]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._journals: dict[str, _Journal] = {}

    def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="tav execution writer")
            if self._ops:
                self._wake.set()

    @property
    def writing(self) -> bool:
        """Started and not closed: what is handed over now gets written."""
        return self._task is not None and not self._task.done() and not self._closed

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
        self._journals.clear()

    async def flush(self) -> None:
        """Wait until everything handed over so far is committed."""
        if self._task is None or self._task.done():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._put("flush", waiter)
        await waiter

    async def create(self, execution: dict[str, Any], data: dict[str, Any]) -> None:
        """Record a new execution (its ``executions`` and ``execution_data`` rows, see
        ``tav.storage.executions.new_execution``) in the next batch; returns once that is
        committed, so that many executions started at once share one commit."""
        if self._closed:
            raise RuntimeError("the execution writer is closed")
        if self._task is None or self._task.done():
            async with self.db.transaction() as session:
                await _insert_created(session, [execution], [data])
            return
        future = asyncio.get_running_loop().create_future()
        self._put("create", (execution, data, future))
        await future

    def resuming(self, execution_id: str) -> None:
        """``execution_id`` continues an execution an earlier process left unfinished."""
        self._journals[execution_id] = _Journal(hot=True, resumed=True)

    # -- the engine's side (append only) ------------------------------------------------

    def publish(self, event: Event) -> None:
        self._put("event", event)

    async def execution_started(self, result: ExecutionResult) -> None:
        self._put("started", result)

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        self._put("node", (execution_id, result))

    async def execution_finished(self, result: ExecutionResult) -> None:
        self._put("finished", result)

    def _put(self, kind: str, payload: Any) -> None:
        if self._closed:
            return
        self._ops.append((kind, payload))
        if self._wake is not None:
            self._wake.set()

    # -- the writer task ----------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            # One more turn of the event loop: whatever else is ready to run (other
            # requests, other executions' next steps) hands over its updates too, so they
            # share this commit. It costs no waiting when nothing else is ready.
            await asyncio.sleep(0)
            self._wake.clear()
            ops, self._ops = self._ops, []
            batch = self._collect(ops)
            try:
                await self._write_checked(batch)
            except Exception as exc:
                logger.exception("could not persist the updates of %d executions", _size(batch))
                for *_, future in batch.created:
                    if not future.done():
                        future.set_exception(exc)
            for *_, future in batch.created:
                if not future.done():
                    future.set_result(None)
            for execution_id in batch.finished:
                self._journals.pop(execution_id, None)
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _collect(self, ops: list[tuple[str, Any]]) -> _Batch:
        """Sort the operations by execution; every event also goes to its journal.

        All of them are taken at once: a node's event and its result are handed over
        together, so they are never split between two transactions.
        """
        batch = _Batch()
        journals = self._journals
        for kind, payload in ops:
            if kind == "event":
                execution_id = payload.execution_id
                journal = journals.get(execution_id) or journals.setdefault(
                    execution_id, _Journal()
                )
                data = payload.model_dump_json()
                journal.events[payload.seq] = data
                batch.events.setdefault(execution_id, {})[payload.seq] = data
            elif kind == "node":
                execution_id, result = payload
                batch.nodes.setdefault(execution_id, {})[result.node_id] = result
            elif kind == "create":
                batch.created.append(payload)
            elif kind == "started":
                batch.started[payload.execution_id] = payload
            elif kind == "finished":
                batch.finished[payload.execution_id] = payload
            else:
                batch.waiters.append(payload)
        return batch

    async def _write_checked(self, batch: _Batch) -> None:
        """Write the batch; if some of its executions were deleted meanwhile (their rows
        would break foreign keys), write it again without them. New executions that cannot
        be recorded (say, their workflow was just deleted) fail alone."""
        try:
            await self._write(batch)
        except IntegrityError:
            if batch.created:
                created, batch.created = batch.created, []
                await self._write_checked(batch)
                await self._create_one_by_one(created)
                return
            ids = set(batch.started) | set(batch.events) | set(batch.nodes) | set(batch.finished)
            async with self.db.session() as session:
                present = set(
                    await session.scalars(select(ExecutionRow.id).where(ExecutionRow.id.in_(ids)))
                )
            gone = ids - present - set(batch.started)
            if not gone:
                raise
            batch.drop(gone)
            for execution_id in gone:
                self._journals.pop(execution_id, None)
            await self._write(batch)

    async def _create_one_by_one(self, created: list[_Created]) -> None:
        for execution, data, future in created:
            try:
                async with self.db.transaction() as session:
                    await _insert_created(session, [execution], [data])
            except Exception as exc:
                future.set_exception(exc)

    async def _write(self, batch: _Batch) -> None:
        if batch.empty():
            return
        dialect = self.db.dialect
        async with self.db.transaction() as session:
            if batch.created:
                executions, data, _ = zip(*batch.created, strict=True)
                await _insert_created(session, executions, data)
            if batch.started:
                await _started(session, dialect, batch.started.values())
            await self._write_hot(session, dialect, batch)
            if batch.finished:
                await self._archive(session, dialect, batch.finished)

    async def _write_hot(self, session: AsyncSession, dialect: str, batch: _Batch) -> None:
        """Node results and events of executions that go on after this batch."""
        finished = batch.finished
        node_rows: list[dict[str, Any]] = [
            {"execution_id": execution_id, "node_id": node_id, "data": _node_data(result)}
            for execution_id, nodes in batch.nodes.items()
            if execution_id not in finished
            for node_id, result in nodes.items()
        ]
        event_rows: list[dict[str, Any]] = [
            {"execution_id": execution_id, "seq": seq, "data": data}
            for execution_id, events in batch.events.items()
            if execution_id not in finished
            for seq, data in events.items()
        ]
        if node_rows:
            statement = upsert(dialect, NodeRunRow, ("execution_id", "node_id"), ("data",))
            await session.execute(statement, node_rows)
        if event_rows:
            statement = upsert(dialect, EventRow, ("execution_id", "seq"))
            await session.execute(statement, event_rows)
            last_seq = [
                {"b_id": execution_id, "last_seq": max(events)}
                for execution_id, events in batch.events.items()
                if execution_id not in finished
            ]
            await (await session.connection()).execute(_LAST_SEQ, last_seq)
        for execution_id in {row["execution_id"] for row in (*node_rows, *event_rows)}:
            self._journals.setdefault(execution_id, _Journal()).hot = True

    async def _archive(
        self, session: AsyncSession, dialect: str, finished: dict[str, ExecutionResult]
    ) -> None:
        """Fold finished executions into their result blobs; drop their hot rows."""
        blobs, ends, hot = [], [], []
        for execution_id, result in finished.items():
            journal = self._journals.get(execution_id) or _Journal()
            events = journal.events
            if journal.resumed:
                events = {**await _stored_events(session, execution_id), **events}
            if journal.hot:
                hot.append(execution_id)
            blobs.append({"execution_id": execution_id, "result": _result_blob(result, events)})
            ends.append(
                {
                    "b_id": execution_id,
                    "status": result.status.value,
                    "finished_at": result.finished_at,
                    "duration_ms": result.duration_ms,
                    "error": result.error.model_dump() if result.error else None,
                    "last_seq": max(events, default=0),
                }
            )
        await (await session.connection()).execute(_FINISH, ends)
        statement = upsert(dialect, ExecutionDataRow, ("execution_id",), ("result",))
        await session.execute(statement, blobs)
        if hot:
            await session.execute(delete(NodeRunRow).where(NodeRunRow.execution_id.in_(hot)))
            await session.execute(delete(EventRow).where(EventRow.execution_id.in_(hot)))


def _size(batch: _Batch) -> int:
    return len(set(batch.started) | set(batch.events) | set(batch.nodes) | set(batch.finished))


def _node_data(result: NodeResult) -> bytes:
    return codec.compress(result.model_dump_json().encode())


def _result_blob(result: ExecutionResult, events: dict[int, str]) -> bytes:
    """``{"output", "nodes", "events"}`` as compressed JSON, the events spliced in as the
    JSON they already are."""
    parts = [
        b'{"output":',
        codec.to_bytes(result.output),
        b',"nodes":',
        codec.to_bytes(result.nodes),
        b',"events":[',
        ",".join(events[seq] for seq in sorted(events)).encode(),
        b"]}",
    ]
    return codec.compress(b"".join(parts))


async def _stored_events(session: AsyncSession, execution_id: str) -> dict[int, str]:
    rows = await session.execute(
        select(EventRow.seq, EventRow.data).where(EventRow.execution_id == execution_id)
    )
    return dict(rows.all())


async def _insert_created(
    session: AsyncSession, executions: Sequence[dict[str, Any]], data: Sequence[dict[str, Any]]
) -> None:
    connection = await session.connection()
    await connection.execute(insert(ExecutionRow), list(executions))
    await connection.execute(insert(ExecutionDataRow), list(data))


async def _started(session: AsyncSession, dialect: str, results: Iterable[ExecutionResult]) -> None:
    """Mark executions running; sub-executions (recorded by nobody else) get their row."""
    rows = [
        {
            "id": result.execution_id,
            "workflow_name": result.workflow[:200],
            "status": result.status.value,
            "mode": "subworkflow" if result.parent_execution_id else "cli",
            "parent_id": result.parent_execution_id,
            "started_at": result.started_at,
            "last_seq": 0,
        }
        for result in results
    ]
    await session.execute(upsert(dialect, ExecutionRow, ("id",), ("status",)), rows)
