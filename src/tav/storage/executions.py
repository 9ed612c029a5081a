"""Reading and managing stored executions (the writer persists them as they run)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, select

from tav.core.events import utcnow
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus
from tav.storage import codec
from tav.storage.db import Database
from tav.storage.models import EventRow, ExecutionDataRow, ExecutionRow, NodeRunRow

UNFINISHED = (ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value)


class ExecutionSummary(BaseModel):
    execution_id: str
    workflow: str
    workflow_id: str | None
    workflow_version: int | None
    status: ExecutionStatus
    mode: str
    parent_execution_id: str | None
    error: ErrorInfo | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None


class ExecutionRecord(ExecutionSummary):
    """A stored execution with its input, output and every node result."""

    input: Any = None
    output: Any = None
    nodes: dict[str, NodeResult] = {}
    last_seq: int = 0

    def result(self) -> ExecutionResult:
        return ExecutionResult(
            execution_id=self.execution_id,
            workflow=self.workflow,
            status=self.status,
            error=self.error,
            output=self.output,
            started_at=self.started_at,
            finished_at=self.finished_at,
            duration_ms=self.duration_ms,
            nodes=self.nodes,
            parent_execution_id=self.parent_execution_id,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``tav run --json`` shape, plus where the execution came from."""
        data = self.result().to_json()
        data.update(
            workflow_id=self.workflow_id,
            workflow_version=self.workflow_version,
            mode=self.mode,
            parent_execution_id=self.parent_execution_id,
            input=self.input,
        )
        return data


class ExecutionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        execution_id: str,
        *,
        workflow: str,
        workflow_id: str | None,
        workflow_version: int | None,
        mode: str,
        input: Any,
        document: dict[str, Any] | None = None,
    ) -> None:
        """Record an execution before it starts (status ``queued``)."""
        async with self.db.transaction() as session:
            session.add(
                ExecutionRow(
                    id=execution_id,
                    workflow_id=workflow_id,
                    workflow_version=workflow_version,
                    workflow_name=workflow[:200],
                    status=ExecutionStatus.QUEUED.value,
                    mode=mode,
                    started_at=utcnow(),
                    last_seq=0,
                )
            )
            await session.flush()
            session.add(
                ExecutionDataRow(
                    execution_id=execution_id,
                    input=codec.pack(input),
                    document=codec.pack(document) if document is not None else None,
                )
            )

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        async with self.db.session() as session:
            row = await session.get(ExecutionRow, execution_id)
            if row is None:
                return None
            data = await session.get(ExecutionDataRow, execution_id)
            result = codec.unpack(data.result) if data and data.result else None
            if result is None:
                nodes = await self._hot_nodes(execution_id)
                output = None
            else:
                nodes = {k: NodeResult.model_validate(v) for k, v in result["nodes"].items()}
                output = result["output"]
        return ExecutionRecord(
            **_summary(row).model_dump(),
            input=codec.unpack(data.input) if data else None,
            output=output,
            nodes=nodes,
            last_seq=row.last_seq,
        )

    async def document(self, execution_id: str) -> dict[str, Any] | None:
        """The workflow document an ad-hoc execution ran (none for stored workflows)."""
        async with self.db.session() as session:
            data = await session.get(ExecutionDataRow, execution_id)
            return codec.unpack(data.document) if data and data.document else None

    async def _hot_nodes(self, execution_id: str) -> dict[str, NodeResult]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(NodeRunRow).where(NodeRunRow.execution_id == execution_id)
            )
            return {r.node_id: NodeResult.model_validate(codec.unpack(r.data)) for r in rows}

    async def events(self, execution_id: str, *, after: int = 0) -> list[dict[str, Any]]:
        """Stored events with ``seq > after``, in order."""
        async with self.db.session() as session:
            data = await session.get(ExecutionDataRow, execution_id)
            if data is not None and data.result is not None:
                events: list[dict[str, Any]] = codec.unpack(data.result)["events"]
                return [e for e in events if e["seq"] > after]
            query = (
                select(EventRow.data)
                .where(EventRow.execution_id == execution_id, EventRow.seq > after)
                .order_by(EventRow.seq)
            )
            return [codec.loads(text) for text in (await session.scalars(query)).all()]

    async def find(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ExecutionSummary], int]:
        """Newest first, with the total count for paging."""
        conditions = []
        if workflow_id is not None:
            conditions.append(ExecutionRow.workflow_id == workflow_id)
        if status is not None:
            conditions.append(ExecutionRow.status == status)
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(ExecutionRow).where(*conditions)
            )
            rows = await session.scalars(
                select(ExecutionRow)
                .where(*conditions)
                .order_by(ExecutionRow.started_at.desc(), ExecutionRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_summary(row) for row in rows], int(total or 0)

    async def delete(self, execution_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(ExecutionRow).where(ExecutionRow.id == execution_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unfinished(self) -> list[ExecutionRecord]:
        """Top-level executions a dead process left queued or running."""
        async with self.db.session() as session:
            ids = (
                await session.scalars(
                    select(ExecutionRow.id).where(
                        ExecutionRow.status.in_(UNFINISHED), ExecutionRow.parent_id.is_(None)
                    )
                )
            ).all()
        records = [await self.get(execution_id) for execution_id in ids]
        return [record for record in records if record is not None]

    async def mark(self, execution_id: str, status: ExecutionStatus, error: ErrorInfo) -> None:
        """Settle an execution that cannot go on (e.g. its workflow is gone)."""
        async with self.db.transaction() as session:
            row = await session.get(ExecutionRow, execution_id)
            if row is not None:
                row.status = status.value
                row.error = error.model_dump()
                row.finished_at = utcnow()

    async def prune(self, *, max_age: timedelta | None, max_count: int | None) -> int:
        """Delete finished executions older than ``max_age`` or beyond the newest
        ``max_count``; returns how many went."""
        finished = ExecutionRow.status.not_in(UNFINISHED)
        removed = 0
        async with self.db.transaction() as session:
            if max_age is not None:
                cutoff = utcnow() - max_age
                result = await session.execute(
                    delete(ExecutionRow).where(finished, ExecutionRow.started_at < cutoff)
                )
                removed += result.rowcount  # type: ignore[attr-defined]
            if max_count is not None:
                keep = (
                    select(ExecutionRow.id)
                    .order_by(ExecutionRow.started_at.desc())
                    .limit(max_count)
                    .scalar_subquery()
                )
                result = await session.execute(
                    delete(ExecutionRow).where(finished, ExecutionRow.id.not_in(keep))
                )
                removed += result.rowcount  # type: ignore[attr-defined]
        return removed


def _summary(row: ExecutionRow) -> ExecutionSummary:
    return ExecutionSummary(
        execution_id=row.id,
        workflow=row.workflow_name,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        status=ExecutionStatus(row.status),
        mode=row.mode,
        parent_execution_id=row.parent_id,
        error=ErrorInfo.model_validate(row.error) if row.error else None,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
    )
