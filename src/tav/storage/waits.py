"""The waits of parked executions (``waits``): kept, found, decided once.

A wait is opened by the node that parks, before its execution is stored ``waiting``
(``open``: once; opening it again, as a node run again after a crash does, changes
nothing). A node that parked with state runs again once its wait is decided, and may wait
again: its next wait (``seq`` one more) takes the row's place, with a link of its own. Its
state is a column of its own (``state``), read only as the execution resumes (``states``).

Every decision goes through ``decide``, one transaction that first locks the execution's
row (an ``UPDATE`` that changes nothing, ``RETURNING`` its status: a row lock
on PostgreSQL, the write lock on SQLite) and only then reads and changes the wait. So of
two decisions on one execution, one waits for the other and sees what it did: of two
people deciding the last approval, exactly one decides it, the other finds it decided. A
wait decided while its execution is ``waiting`` puts the execution back to ``queued`` in
the same transaction; one decided while it still runs (it parks a moment later) is
resumed by whoever parks it (``Waits.parked``).

Only the SHA-256 of a wait's token is kept (``token_hash``), to find the wait its link
names. ``due_at`` (a timer, an approval's timeout) is emptied once the wait is no longer
open, so the index on it holds what the timer loop may still fire, and ``next_due`` is
one index lookup however many executions wait.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tav.core.errors import NotFound
from tav.core.events import utcnow
from tav.core.states import ExecutionStatus
from tav.core.waits import Decision, WaitMode, WaitOutcome, WaitRequest
from tav.storage.db import Database
from tav.storage.models import ExecutionRow, SpentWaitLinkRow, WaitRow
from tav.storage.upsert import upsert

OPEN, DECIDED, CANCELLED = "open", "decided", "cancelled"
WAITING = ExecutionStatus.WAITING.value
QUEUED = ExecutionStatus.QUEUED.value


@dataclass(frozen=True, slots=True)
class WaitRecord:
    """A stored wait, and the status of its execution."""

    execution_id: str
    node_id: str
    status: str
    request: WaitRequest
    due_at: datetime | None
    created_at: datetime
    decided_at: datetime | None
    decisions: list[Decision]
    outcome: WaitOutcome | None
    execution_status: ExecutionStatus
    workflow_id: str | None = None
    workflow: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What ``decide``'s callback makes of a wait: the decisions to keep, and the outcome
    (``None``: more approvals are needed)."""

    decisions: list[Decision]
    outcome: WaitOutcome | None


@dataclass(frozen=True, slots=True)
class Decided:
    """What ``decide`` did: the outcome (``None``: the decision was noted, more are
    needed), and whether the execution went back to ``queued`` (its decider resumes it)."""

    outcome: WaitOutcome | None
    resumes: bool


Judge = Callable[[WaitRecord], Verdict]


class WaitRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(
        self, execution_id: str, node_id: str, request: WaitRequest, token_hash: str | None
    ) -> None:
        row = {
            "execution_id": execution_id,
            "node_id": node_id,
            "mode": request.mode.value,
            "status": OPEN,
            "token_hash": token_hash,
            "spec": request.model_dump(mode="json", exclude={"due_at", "state"}),
            "state": request.state,
            "due_at": request.due_at,
            "created_at": utcnow(),
            "decided_at": None,
            "decisions": None,
            "outcome": None,
        }
        statement = upsert(self.db.dialect, WaitRow, ("execution_id", "node_id"))
        where = (WaitRow.execution_id == execution_id) & (WaitRow.node_id == node_id)
        async with self.db.begin() as connection:
            kept = (
                await connection.execute(select(WaitRow.spec, WaitRow.token_hash).where(where))
            ).first()
            if kept is None:
                await connection.execute(statement, [row])
            elif kept.spec.get("seq", 0) < request.seq:  # the node's next wait takes its place
                keys = ("execution_id", "node_id")
                values = {k: v for k, v in row.items() if k not in keys}
                await connection.execute(update(WaitRow).where(where).values(**values))
                if kept.token_hash is not None:  # its link now answers that it is over
                    spent = {"token_hash": kept.token_hash, "node_id": node_id}
                    await connection.execute(
                        insert(SpentWaitLinkRow).values(execution_id=execution_id, **spent)
                    )

    async def get(self, execution_id: str, node_id: str) -> WaitRecord | None:
        found = await self._find(
            (WaitRow.execution_id == execution_id) & (WaitRow.node_id == node_id)
        )
        return found[0] if found else None

    async def by_token(self, token_hash: str) -> WaitRecord | None:
        found = await self._find(WaitRow.token_hash == token_hash)
        return found[0] if found else None

    async def spent(self, token_hash: str) -> bool:
        """Whether the token was a link of a wait that its node's next wait replaced."""
        statement = select(SpentWaitLinkRow.token_hash).where(
            SpentWaitLinkRow.token_hash == token_hash
        )
        async with self.db.session() as session:
            return await session.scalar(statement) is not None

    async def of(self, execution_ids: Collection[str]) -> dict[str, list[WaitRecord]]:
        """The waits of these executions, by execution, in the order they were opened."""
        found: dict[str, list[WaitRecord]] = {}
        if execution_ids:
            for record in await self._find(WaitRow.execution_id.in_(list(execution_ids))):
                found.setdefault(record.execution_id, []).append(record)
        return found

    async def _find(self, condition: Any) -> list[WaitRecord]:
        query = (
            select(
                WaitRow, ExecutionRow.status, ExecutionRow.workflow_id, ExecutionRow.workflow_name
            )
            .join(ExecutionRow, ExecutionRow.id == WaitRow.execution_id)
            .where(condition)
            .order_by(WaitRow.created_at, WaitRow.node_id)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return [_record(row, status, workflow_id, name) for row, status, workflow_id, name in rows]

    async def states(self, execution_id: str, node_ids: Collection[str]) -> dict[str, Any]:
        """The state each of these nodes parked with (``WaitRequest.state``; a record's
        request lacks it: lists of waits do not read it)."""
        query = select(WaitRow.node_id, WaitRow.state).where(
            WaitRow.execution_id == execution_id, WaitRow.node_id.in_(list(node_ids))
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return {str(node_id): state for node_id, state in rows}

    async def next_due(self) -> datetime | None:
        """When the first open wait is due (its timer, its timeout); ``None``: none is."""
        async with self.db.session() as session:
            due: datetime | None = await session.scalar(select(func.min(WaitRow.due_at)))
        return due

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """``(execution id, node id)`` of open waits due by ``now``, earliest first."""
        query = (
            select(WaitRow.execution_id, WaitRow.node_id)
            .where(WaitRow.due_at <= now)
            .order_by(WaitRow.due_at)
            .limit(limit)
        )
        async with self.db.session() as session:
            return [(e, n) for e, n in (await session.execute(query)).all()]

    async def decide(self, execution_id: str, node_id: str, judge: Judge) -> Decided:
        """Decide the wait with what ``judge`` makes of it, atomically (see the module's
        docstring); ``judge`` raises to refuse (nothing is changed then)."""
        async with self.db.begin() as connection:
            status = await _lock(connection, execution_id)
            if status is None:
                raise NotFound(f"no execution with id {execution_id!r}")
            found = await connection.execute(
                select(WaitRow.__table__).where(
                    WaitRow.execution_id == execution_id, WaitRow.node_id == node_id
                )
            )
            row: Any = found.first()
            if row is None:
                raise NotFound(f"node {node_id!r} of execution {execution_id!r} does not wait")
            verdict = judge(_record(row, status))
            await _write_verdict(connection, execution_id, node_id, verdict)
            resumes = verdict.outcome is not None and status == WAITING
            if resumes:
                await connection.execute(_requeue(execution_id))
        return Decided(verdict.outcome, resumes)

    async def open_of_waiting(self) -> list[tuple[str, WaitRequest, list[Decision]]]:
        """``(execution id, request, decisions so far)`` of the open waits of the waiting
        executions: their columns only, and each distinct request read once (the waits of
        one node of one workflow ask the same): some 40 ms per 1,000 waits on SQLite."""
        query = (
            select(WaitRow.execution_id, WaitRow.spec, WaitRow.decisions)
            .join(ExecutionRow, ExecutionRow.id == WaitRow.execution_id)
            .where(WaitRow.status == OPEN, ExecutionRow.status == WAITING)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        requests: dict[str, WaitRequest] = {}
        found = []
        for execution_id, spec, decisions in rows:
            key = json.dumps(spec, sort_keys=True)
            request = requests.get(key)
            if request is None:
                request = requests[key] = WaitRequest.model_validate(spec)
            found.append(
                (execution_id, request, [Decision.model_validate(d) for d in decisions or ()])
            )
        return found

    async def open_for_children(self) -> list[tuple[str, str]]:
        """``(execution id, node id)`` of the open waits for child executions of waiting
        executions."""
        query = (
            select(WaitRow.execution_id, WaitRow.node_id)
            .join(ExecutionRow, ExecutionRow.id == WaitRow.execution_id)
            .where(
                WaitRow.mode == WaitMode.EXECUTION.value,
                WaitRow.status == OPEN,
                ExecutionRow.status == WAITING,
            )
        )
        async with self.db.session() as session:
            return [(e, n) for e, n in (await session.execute(query)).all()]

    async def forget_due(self, execution_id: str, node_id: str) -> None:
        """Take a wait whose execution ended meanwhile out of the timer's way."""
        async with self.db.begin() as connection:
            await connection.execute(
                update(WaitRow)
                .where(WaitRow.execution_id == execution_id, WaitRow.node_id == node_id)
                .values(due_at=None)
            )

    async def cancel(self, execution_id: str) -> bool:
        """Put a waiting execution back to ``queued``, asked to be cancelled, and cancel
        its open waits (their links answer 410 from now on); ``False`` if it was not
        waiting."""
        async with self.db.begin() as connection:
            status = await _lock(connection, execution_id)
            if status != WAITING:
                return False
            await connection.execute(_requeue(execution_id, cancel=True))
            await connection.execute(
                update(WaitRow)
                .where(WaitRow.execution_id == execution_id, WaitRow.status == OPEN)
                .values(status=CANCELLED, due_at=None)
            )
        return True

    async def requeue(self, execution_id: str) -> bool:
        """Put a waiting execution back to ``queued`` (a wait was decided while it still
        ran); ``False`` if it was not waiting."""
        async with self.db.begin() as connection:
            if await _lock(connection, execution_id) != WAITING:
                return False
            await connection.execute(_requeue(execution_id))
        return True


async def _lock(connection: AsyncConnection, execution_id: str) -> str | None:
    """Lock the execution's row for the transaction, and read its status."""
    statement = (
        update(ExecutionRow)
        .where(ExecutionRow.id == execution_id)
        .values(status=ExecutionRow.status)
        .returning(ExecutionRow.status)
    )
    status: str | None = (await connection.execute(statement)).scalar()
    return status


def _requeue(execution_id: str, *, cancel: bool = False) -> Any:
    """Back to ``queued`` for a process to resume it (queue mode: unpublished and
    unleased, so that the sweeper publishes it if its decider does not)."""
    values: dict[str, Any] = {
        "status": QUEUED,
        "published_at": None,
        "lease_token": None,
        "lease_expires_at": None,
    }
    if cancel:
        values["cancel_requested_at"] = func.now()
    return update(ExecutionRow).where(ExecutionRow.id == execution_id).values(**values)


async def _write_verdict(
    connection: AsyncConnection, execution_id: str, node_id: str, verdict: Verdict
) -> None:
    values: dict[str, Any] = {"decisions": [d.model_dump(mode="json") for d in verdict.decisions]}
    if verdict.outcome is not None:
        values.update(
            status=DECIDED,
            outcome=verdict.outcome.model_dump(mode="json"),
            decided_at=utcnow(),
            due_at=None,
        )
    await connection.execute(
        update(WaitRow)
        .where(WaitRow.execution_id == execution_id, WaitRow.node_id == node_id)
        .values(**values)
    )


def _record(
    row: WaitRow, status: str, workflow_id: str | None = None, workflow: str = ""
) -> WaitRecord:
    return WaitRecord(
        execution_id=row.execution_id,
        node_id=row.node_id,
        status=row.status,
        request=WaitRequest.model_validate({**row.spec, "due_at": row.due_at}),
        due_at=row.due_at,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decisions=[Decision.model_validate(d) for d in row.decisions or ()],
        outcome=WaitOutcome.model_validate(row.outcome) if row.outcome else None,
        execution_status=ExecutionStatus(status),
        workflow_id=workflow_id,
        workflow=workflow,
    )
