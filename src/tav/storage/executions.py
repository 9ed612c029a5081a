"""Reading and managing stored executions (the writer persists them as they run)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tav.core import values
from tav.core.errors import InputInvalid
from tav.core.events import utcnow
from tav.core.model import Model
from tav.core.modes import ExecutionMode
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.roles import UserRef
from tav.core.states import ExecutionStatus
from tav.core.workflow import KeepSuccesses
from tav.storage import codec
from tav.storage.db import Database
from tav.storage.models import (
    EventRow,
    ExecutionDataRow,
    ExecutionRow,
    FileRow,
    NodeRunRow,
    UserRow,
    WorkflowRow,
)
from tav.storage.upsert import upsert
from tav.storage.workflows import user_ref

UNFINISHED = (ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value)
"""What a process runs, or is to run (not ``waiting``: nothing runs it until it is
decided, and resuming at start-up passes it by)."""
NOT_ENDED = (*UNFINISHED, ExecutionStatus.WAITING.value)
TOP_LEVEL = func.coalesce(ExecutionRow.parent_id, "") == ""
"""``parent_id IS NULL``, written so that no planner takes the ``parent_id`` index for it:
nearly every execution is top-level, and SQLite (which keeps no statistics) would read
them all through that index, at every start, rather than the few unfinished ones through
the status index."""
WAITING_PARENTS = select(ExecutionRow.id).where(
    ExecutionRow.status == ExecutionStatus.WAITING.value
)
"""The executions that wait: a child of one goes on by itself (its wait was decided, its
parent's node waits for its end), so a process resumes it as a top-level one, rather
than settle it as orphaned."""
PRUNE_CHUNK = 500
"""Executions deleted per transaction: the writer waits for at most one chunk."""


class ExecutionSummary(Model):
    execution_id: str
    workflow: str
    workflow_id: str | None
    workflow_version: int | None
    status: ExecutionStatus
    mode: ExecutionMode
    parent_execution_id: str | None
    retry_of: str | None = None
    error: ErrorInfo | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    started_by: UserRef | None = None
    """The member who started it (by hand or with an API key); none for a trigger, a
    parent execution or the CLI."""
    worker: str | None = None
    """Queue mode: the worker that ran it (host:pid)."""


class ExecutionRecord(ExecutionSummary):
    """A stored execution with its input, output and every node result."""

    input: Any = None
    output: Any = None
    nodes: dict[str, NodeResult] = {}
    last_seq: int = 0
    kept: KeepSuccesses = "all"
    """What is stored of it: all of it, or (a success of a workflow that keeps less) its
    summary, or nothing but a count (what a run answers with; it cannot be read back)."""

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
        if self.retry_of is not None:
            data["retry_of"] = self.retry_of
        if self.started_by is not None:
            data["started_by"] = self.started_by.model_dump()
        if self.worker is not None:
            data["worker"] = self.worker
        if self.kept != "all":
            data["kept"] = self.kept
        return data


class ExecutionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, execution_id: str, **fields: Any) -> None:
        """Record an execution before it starts (status ``queued``; ``fields`` as for
        ``new_execution``). The server has its writer do this instead, batched with
        everything else it writes."""
        execution, data = new_execution(execution_id, **fields)
        async with self.db.transaction() as session:
            connection = await session.connection()
            await connection.execute(insert(ExecutionRow), [execution])
            await connection.execute(insert(ExecutionDataRow), [data])

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        async with self.db.session() as session:
            found = await read_record(session, execution_id)
        return found[0] if found is not None else None

    async def status(self, execution_id: str) -> ExecutionStatus | None:
        """Just the status (``None`` for an unknown execution): cheap enough to poll."""
        async with self.db.session() as session:
            value = await session.scalar(
                select(ExecutionRow.status).where(ExecutionRow.id == execution_id)
            )
            return ExecutionStatus(value) if value is not None else None

    async def document(self, execution_id: str) -> dict[str, Any] | None:
        """The workflow document an ad-hoc execution ran (none for stored workflows)."""
        async with self.db.session() as session:
            data = await session.get(ExecutionDataRow, execution_id)
            return codec.unpack(data.document) if data and data.document else None

    async def reuse(self, execution_id: str) -> dict[str, NodeResult]:
        """The earlier results an unfinished retry or run from a node takes over (stored
        for queue mode's workers; none once it has finished)."""
        async with self.db.session() as session:
            blob = await session.scalar(
                select(ExecutionDataRow.reuse).where(ExecutionDataRow.execution_id == execution_id)
            )
        return _reused(blob)

    async def events(self, execution_id: str, *, after: int = 0) -> list[dict[str, Any]]:
        """Stored events with ``seq > after``, in order.

        The hot rows are read first, then the result blob, which wins when there is one:
        an execution that ends between the two reads (its hot rows folded into its blob)
        is read whole, rather than as no event at all."""
        query = (
            select(EventRow.data)
            .where(EventRow.execution_id == execution_id, EventRow.seq > after)
            .order_by(EventRow.seq)
        )
        async with self.db.session() as session:
            hot = (await session.scalars(query)).all()
            blob = await session.scalar(
                select(ExecutionDataRow.result).where(ExecutionDataRow.execution_id == execution_id)
            )
        if blob is not None:
            events: list[dict[str, Any]] = codec.unpack(blob)["events"]
            return [e for e in events if e["seq"] > after]
        return [codec.loads(text) for text in hot]

    async def find(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        mode: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        ids: Collection[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ExecutionSummary], int]:
        """Newest first, with the total count for paging; ``started_after`` includes its
        time, ``started_before`` excludes it; ``ids``: only these."""
        conditions: list[ColumnElement[bool]] = []
        if ids is not None:
            conditions.append(ExecutionRow.id.in_(list(ids)))
        if workflow_id is not None:
            conditions.append(ExecutionRow.workflow_id == workflow_id)
        if status is not None:
            conditions.append(ExecutionRow.status == status)
        if mode is not None:
            conditions.append(ExecutionRow.mode == mode)
        if started_after is not None:
            conditions.append(ExecutionRow.started_at >= started_after)
        if started_before is not None:
            conditions.append(ExecutionRow.started_at < started_before)
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(ExecutionRow).where(*conditions)
            )
            rows = await session.execute(
                select(ExecutionRow, UserRow.email)
                .outerjoin(UserRow, UserRow.id == ExecutionRow.started_by)
                .where(*conditions)
                .order_by(ExecutionRow.started_at.desc(), ExecutionRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_summary(row, email) for row, email in rows], int(total or 0)

    async def not_kept(self, workflow_id: str | None = None) -> tuple[int, datetime | None]:
        """How many successful executions were not stored, as their workflows keep only a
        count (of one workflow, or of all), and when the last of them ended."""
        query = select(
            func.coalesce(func.sum(WorkflowRow.successes_not_kept), 0),
            func.max(WorkflowRow.last_success_not_kept_at),
        )
        if workflow_id is not None:
            query = query.where(WorkflowRow.id == workflow_id)
        async with self.db.session() as session:
            count, last = (await session.execute(query)).one()
        return int(count), last

    async def delete(self, execution_id: str) -> list[str]:
        """Delete an execution with the sub-workflow executions it started, at any depth;
        returns the ids deleted (none when there is no such execution)."""
        async with self.db.transaction() as session:
            ids, level = [], [execution_id]
            while level:
                ids.extend(level)
                level = list(
                    await session.scalars(
                        select(ExecutionRow.id).where(ExecutionRow.parent_id.in_(level))
                    )
                )
            result = await session.execute(delete(ExecutionRow).where(ExecutionRow.id.in_(ids)))
            return ids if result.rowcount else []  # type: ignore[attr-defined]

    async def unfinished(
        self, *, exclude_modes: Sequence[ExecutionMode] = ()
    ) -> list[ExecutionRecord]:
        """Top-level executions a dead process left queued or running, oldest first, then
        the children of waiting ones that it left so (see ``WAITING_PARENTS``)."""
        async with self.db.session() as session:
            ids = list((await session.scalars(unfinished_query(exclude_modes))).all())
            ids += (await session.scalars(detached_unfinished_query())).all()
        records = [await self.get(execution_id) for execution_id in ids]
        return [record for record in records if record is not None]

    async def owned_unfinished(self) -> list[tuple[str, str]]:
        """Unfinished top-level executions that record their owner process (``tav run``):
        ``(execution id, owner)``."""
        async with self.db.session() as session:
            rows = await session.execute(owned_unfinished_query())
            return [(execution_id, owner) for execution_id, owner in rows if owner]

    async def settle_orphans(self, error: ErrorInfo) -> int:
        """Mark unfinished sub-executions failed with ``error``; returns how many."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ExecutionRow)
                .where(
                    ExecutionRow.status.in_(UNFINISHED),
                    ExecutionRow.parent_id.is_not(None),
                    ExecutionRow.parent_id.not_in(WAITING_PARENTS),
                )
                .values(
                    status=ExecutionStatus.FAILED.value,
                    error=error.model_dump(),
                    finished_at=utcnow(),
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def detach(
        self,
        execution_id: str,
        document: dict[str, Any],
        input: Any,
        workflow: tuple[str, int] | None = None,
    ) -> None:
        """Keep the document and input of a sub-execution that parked, for the process
        that resumes it on its own (see ``WAITING_PARENTS``); ``workflow``: the stored
        workflow and version it runs."""
        row = {
            "execution_id": execution_id,
            "input": codec.pack(input),
            "document": codec.pack(document),
            "result": None,
            "reuse": None,
        }
        keys, changed = ("execution_id",), ("input", "document")
        statement = upsert(self.db.dialect, ExecutionDataRow, keys, changed)
        async with self.db.begin() as connection:
            await connection.execute(statement, [row])
            if workflow is not None:
                workflow_id, version = workflow
                await connection.execute(
                    update(ExecutionRow)
                    .where(ExecutionRow.id == execution_id)
                    .values(workflow_id=workflow_id, workflow_version=version)
                )

    async def resumable(self, execution_id: str) -> bool:
        """Whether a process can resume the execution: a sub-execution only once its
        parent's node has kept what it runs (``detach``)."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(ExecutionRow.parent_id, ExecutionDataRow.document)
                    .outerjoin(ExecutionDataRow, ExecutionDataRow.execution_id == ExecutionRow.id)
                    .where(ExecutionRow.id == execution_id)
                )
            ).first()
        return row is not None and (row.parent_id is None or row.document is not None)

    async def waiting_children(self, execution_id: str) -> list[str]:
        """The sub-executions of ``execution_id`` that wait."""
        async with self.db.session() as session:
            found = await session.scalars(
                select(ExecutionRow.id).where(
                    ExecutionRow.parent_id == execution_id,
                    ExecutionRow.status == ExecutionStatus.WAITING.value,
                )
            )
            return list(found.all())

    async def depth(self, execution_id: str) -> int:
        """How deep a sub-execution is nested (0: a top-level one)."""
        depth, current = 0, execution_id
        async with self.db.session() as session:
            while True:
                parent = await session.scalar(
                    select(ExecutionRow.parent_id).where(ExecutionRow.id == current)
                )
                if not parent or depth > 64:
                    return depth
                depth, current = depth + 1, parent

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
        ``max_count``, with their data and events; returns how many went.

        In chunks of ``PRUNE_CHUNK``, one transaction each, so that the writer (which
        shares SQLite's one write lock) never waits long."""
        finished = ExecutionRow.status.not_in(NOT_ENDED)  # a waiting one is kept
        newest_first = (ExecutionRow.started_at.desc(), ExecutionRow.id.desc())
        removed = 0
        if max_age is not None:
            cutoff = utcnow() - max_age
            old = select(ExecutionRow.id).where(finished, ExecutionRow.started_at < cutoff)
            removed += await self._delete_chunks(old.limit(PRUNE_CHUNK))
        if max_count is not None:
            surplus = select(ExecutionRow.id).where(finished).order_by(*newest_first)
            removed += await self._delete_chunks(surplus.offset(max_count).limit(PRUNE_CHUNK))
        return removed

    async def _delete_chunks(self, chunk: Any) -> int:
        """Delete the executions ``chunk`` selects, again and again until it is empty."""
        removed = 0
        while True:
            async with self.db.transaction() as session:
                ids = (await session.scalars(chunk)).all()
                if ids:
                    await session.execute(delete(ExecutionRow).where(ExecutionRow.id.in_(ids)))
                    # Their files go too (``FileStore.sweep`` removes the content).
                    await session.execute(
                        delete(FileRow).where(
                            FileRow.execution_id.in_(ids), FileRow.kind == "execution"
                        )
                    )
            removed += len(ids)
            if len(ids) < PRUNE_CHUNK:
                return removed


def unfinished_query(exclude_modes: Sequence[ExecutionMode] = ()) -> Select[str]:
    """The ids of the top-level executions left queued or running, oldest first (read at
    every start: through the status index, however many executions there are)."""
    return (
        select(ExecutionRow.id)
        .where(
            ExecutionRow.status.in_(UNFINISHED),
            TOP_LEVEL,
            ExecutionRow.mode.not_in(exclude_modes),
        )
        .order_by(ExecutionRow.started_at)
    )


def detached_unfinished_query() -> Select[str]:
    """The ids of the children of waiting executions left queued or running, oldest
    first (see ``WAITING_PARENTS``)."""
    return (
        select(ExecutionRow.id)
        .where(
            ExecutionRow.status.in_(UNFINISHED),
            ExecutionRow.parent_id.in_(WAITING_PARENTS),
        )
        .order_by(ExecutionRow.started_at)
    )


def owned_unfinished_query() -> Select[str, str | None]:
    """``(id, owner)`` of the unfinished top-level executions ``tav run`` owns."""
    return select(ExecutionRow.id, ExecutionRow.owner).where(
        ExecutionRow.status.in_(UNFINISHED), TOP_LEVEL, ExecutionRow.owner.is_not(None)
    )


def new_execution(
    execution_id: str,
    *,
    workflow: str,
    workflow_id: str | None,
    workflow_version: int | None,
    mode: ExecutionMode,
    input: Any,
    document: dict[str, Any] | None = None,
    retry_of: str | None = None,
    owner: str | None = None,
    started_by: str | None = None,
    reuse: Mapping[str, NodeResult] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``executions`` and ``execution_data`` rows of an execution about to start;
    ``InputInvalid`` if ``input`` is not storable JSON data (it would break the batch it
    is written in). ``reuse``: the earlier results it takes over, stored for the worker
    that runs it (queue mode)."""
    found = values.problem(input)
    if found is not None:
        where, what = found
        location = ".".join(filter(None, ["input", where]))
        raise InputInvalid(f"the input is not storable JSON data: {what}, at {location}")
    execution = {
        "id": execution_id,
        "workflow_id": workflow_id,
        "workflow_version": workflow_version,
        "workflow_name": workflow[:200],
        "status": ExecutionStatus.QUEUED.value,
        "mode": mode,
        "parent_id": None,
        "retry_of": retry_of,
        "owner": owner,
        "started_by": started_by,
        "error": None,
        "started_at": utcnow(),
        "finished_at": None,
        "duration_ms": None,
        "last_seq": 0,
    }
    data = {
        "execution_id": execution_id,
        "input": codec.pack(input),
        "document": codec.pack(document) if document is not None else None,
        "result": None,
        "reuse": codec.pack(reuse) if reuse else None,
    }
    return execution, data


_RECORD = (
    select(
        ExecutionRow,
        ExecutionDataRow.input,
        ExecutionDataRow.result,
        ExecutionDataRow.reuse,
        UserRow.email,
    )
    .outerjoin(ExecutionDataRow, ExecutionDataRow.execution_id == ExecutionRow.id)
    .outerjoin(UserRow, UserRow.id == ExecutionRow.started_by)
    .where(ExecutionRow.id == bindparam("b_id"))
)
"""An execution's row with its data's and its starter's (built once: ``read_record``)."""


async def read_record(
    session: AsyncSession, execution_id: str, *, to_resume: bool = False
) -> tuple[ExecutionRecord, dict[str, NodeResult]] | None:
    """The execution as stored, and the earlier results it takes over (``reuse``), read
    in ``session`` (a worker reads them in the transaction that claims it). ``to_resume``:
    the nodes of one that stored no event yet are not read (nothing of it was stored:
    it starts over, ``Executions.resume``)."""
    found = (await session.execute(_RECORD, {"b_id": execution_id})).first()
    if found is None:
        return None
    row, input, blob, reuse, email = found
    kept: KeepSuccesses = "all"
    nodes: dict[str, NodeResult]
    if blob is None and to_resume and not row.last_seq:  # (its hot rows come with events)
        nodes, last_seq, output = {}, 0, None
    elif blob is None:  # still running, or left unfinished: the hot rows
        nodes, last_seq = await _hot(session, execution_id, row.last_seq)
        output = None
    else:
        result = codec.unpack(blob)
        nodes = {k: NodeResult.model_validate(v) for k, v in result["nodes"].items()}
        output, last_seq = result["output"], row.last_seq
        kept = result.get("kept", kept)
    record = ExecutionRecord(
        **_fields(row, email),
        input=codec.unpack(input),
        output=output,
        nodes=nodes,
        last_seq=last_seq,
        kept=kept,
    )
    return record, _reused(reuse)


def _reused(blob: bytes | None) -> dict[str, NodeResult]:
    found = codec.unpack(blob) or {}
    return {node_id: NodeResult.model_validate(result) for node_id, result in found.items()}


async def _hot(
    session: AsyncSession, execution_id: str, last_seq: int
) -> tuple[dict[str, NodeResult], int]:
    """The settled nodes of an unfinished execution, and the seq of its last stored event
    (the writer moves ``last_seq`` with the events it stores; the events decide)."""
    rows = await session.execute(
        select(NodeRunRow.node_id, NodeRunRow.data).where(NodeRunRow.execution_id == execution_id)
    )
    nodes = {node_id: NodeResult.model_validate(codec.unpack(data)) for node_id, data in rows}
    stored = await session.scalar(
        select(func.max(EventRow.seq)).where(EventRow.execution_id == execution_id)
    )
    return nodes, max(last_seq, stored or 0)


def _summary(row: ExecutionRow, email: str | None) -> ExecutionSummary:
    return ExecutionSummary(**_fields(row, email))


def _fields(row: ExecutionRow, email: str | None) -> dict[str, Any]:
    return {
        "execution_id": row.id,
        "workflow": row.workflow_name,
        "workflow_id": row.workflow_id,
        "workflow_version": row.workflow_version,
        "status": ExecutionStatus(row.status),
        "mode": row.mode,
        "parent_execution_id": row.parent_id,
        "retry_of": row.retry_of,
        "error": ErrorInfo.model_validate(row.error) if row.error else None,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "duration_ms": row.duration_ms,
        "started_by": user_ref(row.started_by, email),
        "worker": row.worker,
    }
