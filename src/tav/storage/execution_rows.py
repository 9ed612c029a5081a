"""The rows the execution writer writes (``tav.storage.writer``): a new execution's, the
hot rows of a running one, the columns and the result blob of a finished one.

The statements are built once; each takes a list of rows (an executemany), the
execution's id as ``b_id``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tav.core.errors import FailureKind
from tav.core.events import Event
from tav.core.modes import ExecutionMode
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.storage import codec
from tav.storage.models import EventRow, ExecutionDataRow, ExecutionRow, NodeRunRow
from tav.storage.upsert import upsert

EXECUTIONS: Table = ExecutionRow.__table__  # type: ignore[assignment]
FINISH = (
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
LAST_SEQ = (
    EXECUTIONS.update()
    .where(EXECUTIONS.c.id == bindparam("b_id"))
    .values(last_seq=bindparam("last_seq"))
)
FAIL = (
    EXECUTIONS.update()
    .where(EXECUTIONS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("status"), finished_at=bindparam("finished_at"), error=bindparam("error")
    )
)
PARK = (
    EXECUTIONS.update()
    .where(EXECUTIONS.c.id == bindparam("b_id"))
    .values(status=ExecutionStatus.WAITING.value)
)
"""An execution whose run ended waiting: its row says so (``tav.storage.waits``)."""
SUMMARY_BLOB = codec.pack({"output": None, "nodes": {}, "events": [], "kept": "summary"})
"""The result of a success kept as a summary: the same for all of them."""


def storable_node(result: NodeResult) -> bytes:
    """The node's row; a failure saying why, if its result cannot be stored."""
    try:
        return node_data(result)
    except codec.NotStorable as exc:
        error = ErrorInfo(
            type=FailureKind.NOT_STORED, message=f"its result could not be stored: {exc}"
        )
        failed = NodeResult(
            node_id=result.node_id,
            status=NodeStatus.FAILED,
            attempts=result.attempts,
            error=error,
            started_at=result.started_at,
            finished_at=result.finished_at,
            duration_ms=result.duration_ms,
        )
        return node_data(failed)


def storable_events(events: dict[str, dict[int, Event]]) -> list[dict[str, Any]]:
    """The event rows of those events that can be stored."""
    rows = []
    for execution_id, by_seq in events.items():
        for seq, event in by_seq.items():
            with contextlib.suppress(codec.NotStorable):
                data = codec.model_bytes(event).decode()
                rows.append({"execution_id": execution_id, "seq": seq, "data": data})
    return rows


async def put_hot(
    connection: AsyncConnection,
    dialect: str,
    node_rows: list[dict[str, Any]],
    event_rows: list[dict[str, Any]],
) -> None:
    if node_rows:
        statement = upsert(dialect, NodeRunRow, ("execution_id", "node_id"), ("data",))
        await connection.execute(statement, node_rows)
    if event_rows:
        statement = upsert(dialect, EventRow, ("execution_id", "seq"))
        await connection.execute(statement, event_rows)


def ending(result: ExecutionResult, events: Mapping[int, object]) -> dict[str, Any]:
    """The ``executions`` columns a finished execution sets."""
    return {
        "status": result.status.value,
        "finished_at": result.finished_at,
        "duration_ms": result.duration_ms,
        "error": result.error.model_dump() if result.error else None,
        "last_seq": max(events, default=0),
    }


def node_data(result: NodeResult) -> bytes:
    return codec.compress(codec.model_bytes(result))


def result_blob(result: ExecutionResult, events: Mapping[int, Event | str]) -> bytes:
    """``{"output", "nodes", "events"}`` as compressed JSON; events read back from the
    database (``str``) are spliced in as the JSON they already are."""
    ordered = [events[seq] for seq in sorted(events)]
    if any(isinstance(event, str) for event in ordered):
        listed = b",".join(
            event.encode() if isinstance(event, str) else codec.to_bytes(event) for event in ordered
        )
        events_json = b"[" + listed + b"]"
    else:
        events_json = codec.to_bytes(ordered)  # one call for all of them
    parts = [
        b'{"output":',
        codec.to_bytes(result.output),
        b',"nodes":',
        codec.to_bytes(result.nodes),
        b',"events":',
        events_json,
        b"}",
    ]
    return codec.compress(b"".join(parts))


async def stored_events(connection: AsyncConnection, execution_id: str) -> dict[int, str]:
    rows = await connection.execute(
        select(EventRow.seq, EventRow.data).where(EventRow.execution_id == execution_id)
    )
    return dict(rows.all())


async def insert_created(
    connection: AsyncConnection,
    executions: Sequence[dict[str, Any]],
    data: Sequence[dict[str, Any]],
) -> None:
    await connection.execute(insert(ExecutionRow), list(executions))
    await connection.execute(insert(ExecutionDataRow), list(data))


async def mark_started(
    connection: AsyncConnection, dialect: str, results: Iterable[ExecutionResult]
) -> None:
    """Mark executions running; sub-executions (recorded by nobody else) get their row."""
    rows = [
        {
            "id": result.execution_id,
            "workflow_name": result.workflow[:200],
            "status": result.status.value,
            "mode": ExecutionMode.SUBWORKFLOW if result.parent_execution_id else ExecutionMode.CLI,
            "parent_id": result.parent_execution_id,
            "started_at": result.started_at,
            "last_seq": 0,
        }
        for result in results
    ]
    await connection.execute(upsert(dialect, ExecutionRow, ("id",), ("status",)), rows)
