"""Queue mode's rows: executions committed as queued, published, and leased by a worker.

An execution is committed before its task is published (``insert_queued``); the task
carries its id only. ``published_at`` stays empty until the broker took the task, so the
sweeper (``unpublished``) finds what an API process could not publish (it died, or the
broker was down) and publishes it; a row whose lease expired is found the same way
(``expired``), and published again for another worker to resume.

A worker claims an execution with one conditional UPDATE (``claim``): only one worker
wins, and only when nobody else holds an unexpired lease. It renews the lease while it
runs (``renew``); its writes are fenced by the lease token (``fenced``, in the writer's
transactions), so once another worker took over, nothing more of the first is stored.
A worker's claim brings the execution as stored (``claim(read=True)``: one transaction),
and its lease is freed in the writer's transaction that stores the execution's end
(``RELEASE``), which ``fenced`` has checked and locked: two transactions for a short
execution, where a claim, its reads and a release of its own took five more.

Times are the database's (``now()``), so the clocks of the machines never disagree.

The lease's own writes (claim, renew, release, hand back) are committed without waiting for
the write-ahead log to reach the disk (``synchronous_commit`` off for their transactions:
about 3 ms less between a task's arrival and its first node on an idle cluster). A
database crash may then forget the last of them, which the fencing makes harmless: a
forgotten claim or renewal means a lease lost sooner, so the worker's next writes are
refused and it stops the execution, which the sweeper publishes again; a forgotten release
or hand-back means a lease that expires instead. A new execution's row (``insert_queued``)
is committed durably, as every other write is.

PostgreSQL only: queue mode refuses SQLite (``tav.app.topology``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tav.core.errors import FailureKind
from tav.core.results import ErrorInfo, NodeResult
from tav.core.states import ExecutionStatus
from tav.storage.db import Database
from tav.storage.execution_rows import EXECUTIONS, insert_created
from tav.storage.executions import UNFINISHED, WAITING_PARENTS, ExecutionRecord, read_record
from tav.storage.models import ExecutionRow

QUEUED = ExecutionStatus.QUEUED.value
NOT_WAITING_FOR_THE_DISK = text("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on an execution."""

    execution_id: str
    token: str
    worker: str
    skip: frozenset[str] = frozenset()
    """The trigger nodes it settles as skipped (the triggers that did not start it)."""
    cancel: bool = False
    """Someone asked to cancel it (``tav.storage.cancels``): stop it as soon as it starts."""
    record: ExecutionRecord | None = None
    """The execution as stored when it was claimed (``claim(read=True)``)."""
    reuse: dict[str, NodeResult] | None = None
    """The earlier results it takes over (``claim(read=True)``)."""


@dataclass(frozen=True, slots=True)
class Renewal:
    lost: set[str]
    """The executions whose lease was lost (taken over, or it expired)."""
    cancelled: set[str]
    """Of those still held, the ones someone asked to cancel."""


@dataclass(frozen=True, slots=True)
class QueueDepth:
    queued: int
    running: int
    oldest_queued_at: datetime | None
    unpublished: int


def _now() -> Any:
    return func.now()


class LeaseRepository:
    def __init__(self, db: Database, *, lease_s: float) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_s)
        self._claims = {runs: _claim(self.lease, runs=runs) for runs in (True, False)}
        """The claim's statement, built once (building it took as long as running it)."""

    async def insert_queued(self, execution: dict[str, Any], data: dict[str, Any]) -> None:
        """Commit a new execution as queued, not yet published."""
        async with self.db.begin() as connection:
            await insert_created(connection, [execution], [data])

    async def published(self, execution_ids: Collection[str]) -> None:
        """Note that the broker took these executions' tasks."""
        async with self.db.begin() as connection:
            await connection.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id.in_(execution_ids), ExecutionRow.published_at.is_(None))
                .values(published_at=_now())
            )

    @asynccontextmanager
    async def unpublished(
        self, *, older_than_s: float, republish_s: float, limit: int = 100
    ) -> AsyncIterator[tuple[AsyncConnection, list[str]]]:
        """Top-level executions (and children of waiting ones, which go on by themselves)
        to publish, locked for this transaction only (``SKIP
        LOCKED``: another API process's sweeper takes others): those committed but never
        published for ``older_than_s`` (the request that committed one publishes it
        itself unless it fails), those whose lease expired since it was last published,
        and those published ``republish_s`` ago that no worker claimed (the broker lost
        the task: a Redis without persistence restarted, say; a task delivered twice is
        harmless, as only one claim wins). Mark those published with ``mark_published`` in the same
        transaction, once the broker took them."""
        age = timedelta(seconds=older_than_s)
        never = and_(  # (or handed back by a worker that shut down: running, unleased)
            ExecutionRow.status.in_(UNFINISHED),
            ExecutionRow.published_at.is_(None),
            ExecutionRow.lease_token.is_(None),
            ExecutionRow.started_at < _now() - age,
        )
        lost = and_(
            ExecutionRow.status.in_(UNFINISHED),
            ExecutionRow.lease_expires_at < _now(),
            or_(
                ExecutionRow.published_at.is_(None),
                ExecutionRow.published_at < ExecutionRow.lease_expires_at,
            ),
        )
        unclaimed = and_(
            ExecutionRow.status == QUEUED,
            ExecutionRow.lease_token.is_(None),
            ExecutionRow.published_at < _now() - timedelta(seconds=republish_s),
        )
        statement = (
            select(ExecutionRow.id)
            .where(
                or_(ExecutionRow.parent_id.is_(None), ExecutionRow.parent_id.in_(WAITING_PARENTS)),
                or_(never, lost, unclaimed),
            )
            .order_by(ExecutionRow.started_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.db.begin() as connection:
            ids = list((await connection.scalars(statement)).all())
            yield connection, ids

    @staticmethod
    async def mark_published(connection: AsyncConnection, ids: Collection[str]) -> None:
        if ids:
            await connection.execute(
                update(ExecutionRow).where(ExecutionRow.id.in_(ids)).values(published_at=_now())
            )

    async def claim(
        self, execution_id: str, worker: str, *, runs: bool = True, read: bool = False
    ) -> Lease | None:
        """Take the execution for ``worker`` if it is unfinished and nobody holds it (or
        their lease expired); ``None`` if another worker has it or it ended. ``runs``:
        the execution is recorded as run by ``worker`` (an API process that claims a
        queued execution only to cancel it is not). ``read``: the lease brings the
        execution as stored, read in the same transaction (one transaction where a claim
        and then a read took two).

        A takeover (the execution had started) settles, in the same transaction, the
        sub-executions it left unfinished as crashed, as a single process does when it
        starts again: the parent's node runs them again, under new ids, and the writes of
        the worker that ran them are fenced from now on (``fenced``)."""
        token = secrets.token_hex(16)
        params = {"b_id": execution_id, "b_token": token, "b_worker": worker[:200]}
        found = None
        async with self.db.transaction() as session:
            await session.execute(NOT_WAITING_FOR_THE_DISK)
            won = (await session.execute(self._claims[runs], params)).first()
            if won is not None and won.last_seq:
                await _settle_orphans(await session.connection(), execution_id)
            if won is not None and read:
                found = await read_record(session, execution_id, to_resume=True)
        if won is None:
            return None
        cancel = won.cancel_requested_at is not None
        record, reuse = found if found is not None else (None, None)
        skip = frozenset(won.skip or ())
        return Lease(execution_id, token, worker, skip, cancel, record, reuse)

    async def renew(self, leases: Collection[Lease]) -> Renewal:
        """Extend the leases still held; returns those lost, and those of the executions
        someone asked to cancel meanwhile."""
        renewal = Renewal(lost=set(), cancelled=set())
        async with self.db.begin() as connection:
            await connection.execute(NOT_WAITING_FOR_THE_DISK)
            for lease in leases:
                result = await connection.execute(
                    update(ExecutionRow)
                    .where(ExecutionRow.id == lease.execution_id, _held(lease))
                    .values(lease_expires_at=_now() + self.lease)
                    .returning(ExecutionRow.cancel_requested_at)
                )
                row = result.first()
                if row is None:
                    renewal.lost.add(lease.execution_id)
                elif row.cancel_requested_at is not None:
                    renewal.cancelled.add(lease.execution_id)
        return renewal

    async def release(self, lease: Lease) -> None:
        async with self.db.begin() as connection:
            await connection.execute(NOT_WAITING_FOR_THE_DISK)
            await connection.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id == lease.execution_id, _held(lease))
                .values(lease_token=None, lease_expires_at=None)
            )

    async def hand_back(self, lease: Lease) -> None:
        """Give up an execution this worker could not finish (it is shutting down): free
        its lease and have the sweeper publish it again, for another worker to resume."""
        async with self.db.begin() as connection:
            await connection.execute(NOT_WAITING_FOR_THE_DISK)
            await connection.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id == lease.execution_id, _held(lease))
                .values(lease_token=None, lease_expires_at=None, published_at=None)
            )

    async def depth(self) -> QueueDepth:
        top = ExecutionRow.parent_id.is_(None)
        statement = select(
            func.count().filter(ExecutionRow.status == QUEUED),
            func.count().filter(ExecutionRow.status == ExecutionStatus.RUNNING.value),
            func.min(ExecutionRow.started_at).filter(ExecutionRow.status == QUEUED),
            func.count().filter(ExecutionRow.status == QUEUED, ExecutionRow.published_at.is_(None)),
        ).where(top, ExecutionRow.status.in_(UNFINISHED))
        async with self.db.session() as session:
            queued, running, oldest, unpublished = (await session.execute(statement)).one()
        return QueueDepth(queued, running, oldest, unpublished)


ORPHANED = ErrorInfo(
    type=FailureKind.CRASHED,
    message="the worker running its parent stopped; its parent runs it again",
)


async def _settle_orphans(connection: AsyncConnection, execution_id: str) -> None:
    """Settle as crashed the unfinished sub-executions of ``execution_id``, at any depth."""
    level = [execution_id]
    while level:
        level = list(
            (
                await connection.scalars(
                    update(ExecutionRow)
                    .where(
                        ExecutionRow.parent_id.in_(level),
                        ExecutionRow.status.in_(UNFINISHED),
                        # (not a child that waited and goes on by itself, on its own lease)
                        or_(
                            ExecutionRow.lease_token.is_(None),
                            ExecutionRow.lease_expires_at < _now(),
                        ),
                    )
                    .values(
                        status=ExecutionStatus.FAILED.value,
                        error=ORPHANED.model_dump(),
                        finished_at=_now(),
                    )
                    .returning(ExecutionRow.id)
                )
            ).all()
        )


def _claim(lease: timedelta, *, runs: bool) -> Any:
    """``LeaseRepository.claim``'s statement (parameters ``b_id``, ``b_token``,
    ``b_worker``): the lease is taken if the execution is unfinished and nobody holds it
    (or their lease expired)."""
    free = or_(ExecutionRow.lease_token.is_(None), ExecutionRow.lease_expires_at < _now())
    values: dict[str, Any] = {
        "lease_token": bindparam("b_token"),
        "lease_expires_at": _now() + lease,
    }
    if runs:
        values["worker"] = bindparam("b_worker")
    return (
        update(ExecutionRow)
        .where(ExecutionRow.id == bindparam("b_id"), ExecutionRow.status.in_(UNFINISHED), free)
        .values(**values)
        .returning(ExecutionRow.skip, ExecutionRow.cancel_requested_at, ExecutionRow.last_seq)
        .execution_options(synchronize_session=False)
    )


RELEASE = (
    EXECUTIONS.update()
    .where(EXECUTIONS.c.id == bindparam("b_id"), EXECUTIONS.c.lease_token == bindparam("b_token"))
    .values(lease_token=None, lease_expires_at=None)
)
"""Free the lease with token ``b_token`` of execution ``b_id`` (executemany): what the
writer does in the transaction that stores the end of a worker's execution, which
``fenced`` checked and locked (``LeaseRepository.release`` in a transaction of its own
did the same, one transaction later)."""


def _held(lease: Lease) -> Any:
    return and_(ExecutionRow.lease_token == lease.token, ExecutionRow.lease_expires_at >= _now())


async def fenced(connection: AsyncConnection, tokens: dict[str, str]) -> set[str]:
    """Of the executions with these lease tokens, those whose lease another worker holds
    now; the others' rows are locked until the transaction ends, so no takeover can slip
    in between this check and the writes after it."""
    rows = await connection.execute(
        select(ExecutionRow.id, ExecutionRow.lease_token)
        .where(ExecutionRow.id.in_(tokens))
        .with_for_update()
    )
    held = {execution_id for execution_id, token in rows.all() if token == tokens[execution_id]}
    return set(tokens) - held
