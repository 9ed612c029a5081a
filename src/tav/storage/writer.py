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
execution's events in memory (serialised all at once into the blob), so the blob is built
without reading them back; only an execution resumed from an earlier process has stored
events it never saw, and those are read once, when it finishes. An execution that starts
and finishes within one batch never touches the hot tables at all.

A new execution is recorded in the same batch as the first things it does (``record``), so
that a short one costs one transaction and two statements in all: its ``executions`` row
and its ``execution_data`` row are inserted already finished, with the result blob. Its
caller answers only once that batch is committed; a crash before then loses the execution
as if its request had never arrived (no answer was sent for it).

An execution recorded to keep less than everything of a success (``keep``: its summary, or
only a count, see ``tav.core.workflow.KeepSuccesses``) is *cold*: its node results and
events are never written as hot rows. The writer already holds its events (the journal)
and its end brings every node result, so nothing is lost by waiting: if it fails (or is
cancelled) it is written in full then, as any other; if it succeeds, a summary is its
finished row with its input and an empty result, and a count is one added to its
workflow's ``successes_not_kept`` (its row, if an earlier batch wrote it as running, is
deleted). Its sub-executions keep what it keeps.

Nothing of a cold execution goes through the batches until it ends: its events go
straight to its journal, its node results are not handed over at all, and its record
waits for up to ``COLD_GRACE_S`` (its ``record`` future with it), so that a short one is
not inserted by one batch and deleted by the next whenever it straddles them. One kept
as a count that succeeds before a batch took its record is done when it ends (its
``record`` future is set, ``flush`` for it returns at once): nothing of it is written but
its count, so nobody waits for a batch (the next one takes it out). Counts are
added up in memory and written every ``COUNT_EVERY_S`` (and by ``flush()``) in a
transaction of their own, so a batch of short successes kept as counts needs no
transaction at all; a crash loses at most that last second of counts. Rejected: writing
its hot rows and deleting them at the end (the writes are what a high-volume webhook
cannot afford), and not recording it at all until it ends (a long one would be invisible
while it runs, and a crash would lose it without a trace: now it is resumed from its
start, having stored no progress).

An execution whose run ends ``waiting`` (a node parked it, ``tav.engine.executor``) is not
folded: its row says ``waiting`` and its hot rows stay, for the process that resumes it
once its wait is decided; a cold one's nodes and events are written as hot rows then
(``_park``).

One execution never costs the others their updates. When a batch cannot be written for a
reason other than those handled on the spot (an execution deleted meanwhile, one whose
workflow is gone), its executions are written apart until the ones that break it are
found (``tav.storage.isolation``); everyone else's are committed. Each of those is
recorded as failed, with whatever of its updates can be stored on its own, and stopped
(``on_lost``); one that cannot be recorded even so is lost, and its ``record`` future gets
the error. ``flush`` says so too: it raises ``NotStored`` rather than report a write that
did not happen. (The engine checks node outputs before they get here: this is the net
under that check, not the usual path.)

Rejected: a row per event in a single table kept forever (the listing and the file grow
with every event), and writing from the engine's task (every node would wait for a commit).

Why this module is past 800 lines: the batches, the isolation of the executions that
break one, and the cold executions all work on the writer's one state (the operations
handed over, the journals, the records held back), so they are one class. What does not
share that state is elsewhere: the rows and statements (``tav.storage.execution_rows``),
the counts of successes not kept (``tav.storage.counts``), the bisection
(``tav.storage.isolation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from tav.core.errors import NotStored
from tav.core.events import Event, utcnow
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus
from tav.core.workflow import KeepSuccesses
from tav.storage import codec
from tav.storage.counts import NotKeptCounts, write_counts
from tav.storage.db import Database
from tav.storage.execution_rows import (
    FAIL,
    FINISH,
    LAST_SEQ,
    PARK,
    SUMMARY_BLOB,
    ending,
    insert_created,
    mark_started,
    node_data,
    put_hot,
    storable_events,
    storable_node,
    stored_events,
)
from tav.storage.execution_rows import result_blob as _result_blob  # (a name tests replace)
from tav.storage.isolation import Isolation, reason
from tav.storage.leases import RELEASE, fenced
from tav.storage.models import EventRow, ExecutionDataRow, ExecutionRow, NodeRunRow
from tav.storage.upsert import upsert

logger = logging.getLogger("tav.storage")
BATCH_WINDOW_S = 0.005
"""How long at most the writer waits for new executions to finish before it writes them
(see ``ExecutionWriter._gather``): a 10-node chain takes well under 1 ms alone, a few ms
among many others; not long enough to be felt."""
COLD_GRACE_S = 0.1
"""How long a cold execution's record may wait for its end, so that a short success is
never written (see the module's docstring); a longer one is recorded as running."""
COUNT_EVERY_S = 1.0
"""How often the counts of successes not kept are written (``flush()`` writes them too)."""
LOST_REMEMBERED = 1000
"""Executions whose updates could not be stored that ``flush`` still knows of."""


@dataclass
class _Journal:
    """What the writer holds of one unfinished execution."""

    events: dict[int, Event] = field(default_factory=dict)
    """Each event this process published for it, by seq."""
    hot: bool = False
    """Some of its rows are in the hot tables (written by this process or an earlier one)."""
    resumed: bool = False
    """An earlier process ran it: events are stored that are not in ``events``."""


@dataclass(frozen=True, slots=True)
class _Cold:
    """What a cold execution keeps of a success, and the workflow that counts it."""

    keep: KeepSuccesses
    workflow_id: str | None
    recorded: asyncio.Future[None] | None = None
    """Its ``record`` future (none for one recorded by an earlier process)."""
    since: float = field(default_factory=time.monotonic)
    """When it was recorded (``time.monotonic``)."""


_Created = tuple[dict[str, Any], dict[str, Any], asyncio.Future[None]]
_Waiter = tuple[asyncio.Future[None], str | None, int]
"""A ``flush``: its future, the execution it asks about, and the losses counted before."""


@dataclass
class _Batch:
    created: list[_Created] = field(default_factory=list)
    started: dict[str, ExecutionResult] = field(default_factory=dict)
    events: dict[str, dict[int, Event]] = field(default_factory=dict)
    nodes: dict[str, dict[str, NodeResult]] = field(default_factory=dict)
    finished: dict[str, ExecutionResult] = field(default_factory=dict)
    waiters: list[_Waiter] = field(default_factory=list)
    inserted: set[str] = field(default_factory=set)
    """New executions whose rows were committed on their own (``_create_one_by_one``):
    written again, they are no longer new. Shared with the batch's parts."""

    def empty(self) -> bool:
        return not (self.created or self.started or self.events or self.nodes or self.finished)

    def drop(self, execution_ids: Iterable[str]) -> None:
        for execution_id in execution_ids:
            for part in (self.started, self.events, self.nodes, self.finished):
                part.pop(execution_id, None)

    def new(self) -> list[_Created]:
        """The executions this batch records, less those already inserted."""
        return [c for c in self.created if c[0]["id"] not in self.inserted]

    def ids(self) -> list[str]:
        """Every execution with updates in the batch, in the order they came."""
        ids = [execution["id"] for execution, _, _ in self.created]
        for part in (self.started, self.events, self.nodes, self.finished):
            ids.extend(part)
        return list(dict.fromkeys(ids))

    def only(self, ids: Collection[str]) -> _Batch:
        """The part of the batch that belongs to ``ids``."""

        def kept(part: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in part.items() if k in ids}

        created = [c for c in self.created if c[0]["id"] in ids]
        parts = (kept(self.started), kept(self.events), kept(self.nodes), kept(self.finished))
        return _Batch(created, *parts, inserted=self.inserted)

    def families(self) -> list[list[str]]:
        """The executions in groups that can be written apart: a sub-execution goes with
        its parent when both are here (its row refers to the parent's)."""
        roots: dict[str, str] = {}
        groups: dict[str, list[str]] = {}
        for execution_id in self.ids():
            result = self.started.get(execution_id) or self.finished.get(execution_id)
            parent = result.parent_execution_id if result else None
            root = roots.get(parent, execution_id) if parent else execution_id
            roots[execution_id] = root
            groups.setdefault(root, []).append(execution_id)
        return list(groups.values())


class ExecutionWriter:
    """``ExecutionStore`` and event sink backed by the database."""

    def __init__(self, db: Database, *, on_lost: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.on_lost = on_lost
        """Called with each execution whose updates could not be stored: stop it."""
        self._ops: list[tuple[str, Any]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._journals: dict[str, _Journal] = {}
        self._cold: dict[str, _Cold] = {}
        """The unfinished executions that keep less than everything of a success."""
        self._counts = NotKeptCounts()
        """Successes kept as a count, not yet written."""
        self._done: set[str] = set()
        """Cold executions counted that no batch has handled yet: nothing to wait for."""
        self._busy = False
        """A batch is being written."""
        self._young: set[str] = set()
        """Executions recorded by operations not yet taken into a batch, still running."""
        self._young_finished: asyncio.Event | None = None
        self._refused: set[str] = set()
        """Executions that could not be recorded, or not stored: their updates are dropped
        until they finish."""
        self._lost: OrderedDict[str, NotStored] = OrderedDict()
        """The latest executions whose updates could not be stored, for ``flush``."""
        self._losses = 0
        """How many executions have lost updates so far."""
        self.fences: dict[str, str] = {}
        """Queue mode: the lease token of each execution this worker runs. A batch is
        written only while the lease is still this worker's (``tav.storage.leases``):
        the updates of one taken over by another worker are refused from then on, and it
        is stopped (``on_lost``). A sub-execution is fenced by the lease of its top-level
        execution (``_roots``)."""
        self._roots: dict[str, str] = {}
        """Queue mode: the top-level execution of each unfinished sub-execution of one
        this worker runs under a lease (``fences``)."""
        self.freed: set[str] = set()
        """Queue mode: the executions whose lease was freed with the batch that stored
        their end (``_free_leases``); their worker takes them out (``lease_freed``)."""

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
        with contextlib.suppress(NotStored):  # logged when it happened
            await self.flush()
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        self._journals.clear()
        self._cold.clear()
        self._done.clear()

    async def flush(self, execution_id: str | None = None) -> None:
        """Wait until everything handed over so far is committed.

        Raises ``NotStored`` if some of it could not be stored; with ``execution_id``, only
        if that execution's updates could not be (now or before)."""
        if execution_id is not None and execution_id in self._lost:
            raise self._lost[execution_id]
        if execution_id in self._done:
            return
        pending = self._ops or self._busy or self._counts
        # Closing (``close`` awaits its task's end): nothing more will be written, and a
        # waiter handed over now would never be answered.
        if self._task is None or self._task.done() or self._closed or not pending:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._put("flush", (waiter, execution_id, self._losses))
        await waiter

    def record(
        self, execution: dict[str, Any], data: dict[str, Any], *, keep: KeepSuccesses = "all"
    ) -> asyncio.Future[None]:
        """Record a new execution (its ``executions`` and ``execution_data`` rows, see
        ``tav.storage.executions.new_execution``) in the next batch, together with what it
        does until then. The future is done once that is committed (or failed: the
        execution's later updates are then dropped). Needs the writer task (``writing``).
        ``keep``: what is stored of it if it succeeds (see the module's docstring)."""
        if not self.writing:
            raise RuntimeError("the execution writer is not running")
        future = asyncio.get_running_loop().create_future()
        if keep != "all":
            self._cold[execution["id"]] = _Cold(keep, execution["workflow_id"], future)
        self._put("create", (execution, data, future))
        return future

    def starting(self, execution_id: str) -> None:
        """``execution_id``, already recorded, starts running here (a worker claimed it):
        the next batch waits for it as for a new one (``_gather``), so that a short one
        is stored in one batch, its end with its lease freed, without hot rows."""
        if self.writing:
            self._young.add(execution_id)

    def resuming(self, execution_id: str) -> None:
        """``execution_id`` continues an execution an earlier process left unfinished."""
        self._journals[execution_id] = _Journal(hot=True, resumed=True)

    def taken_again(self, execution_id: str) -> None:
        """``execution_id`` runs here again (a worker claimed it anew, after it had been
        lost or abandoned here): its updates are stored again from now on."""
        self._refused.discard(execution_id)
        self._lost.pop(execution_id, None)
        self.freed.discard(execution_id)

    def lease_freed(self, execution_id: str) -> bool:
        """Whether the lease of ``execution_id`` was freed as its end was stored (then
        forgotten here: its worker need not free it)."""
        if execution_id in self.freed:
            self.freed.discard(execution_id)
            return True
        return False

    def abandon(self, execution_id: str) -> None:
        """Store nothing more of ``execution_id`` until it finishes (its worker lost its
        lease: another worker goes on from what is stored)."""
        for gone in (execution_id, *self._children(execution_id)):
            self.fences.pop(gone, None)
            self._roots.pop(gone, None)
            self._refused.add(gone)
            self._journals.pop(gone, None)
            self._cold.pop(gone, None)

    def _children(self, root: str) -> list[str]:
        """The unfinished sub-executions, at any depth, of ``root`` (fenced executions)."""
        return [child for child, its_root in self._roots.items() if its_root == root]

    def not_kept(self, workflow_id: str | None = None) -> tuple[int, datetime | None]:
        """The successes not kept whose count is not written yet (of one workflow, or of
        all), and when the last of them ended."""
        return self._counts.pending(workflow_id)

    def keeping(self, execution_id: str, keep: KeepSuccesses, *, workflow_id: str | None) -> None:
        """What is stored of ``execution_id`` if it succeeds (``record`` says it for a new
        execution; a resumed one is told here, before it runs)."""
        if keep == "all":
            self._cold.pop(execution_id, None)
        else:
            self._cold[execution_id] = _Cold(keep, workflow_id)

    # -- the engine's side (append only) ------------------------------------------------

    def publish(self, event: Event) -> None:
        execution_id = event.execution_id
        if execution_id in self._cold and not self._closed and execution_id not in self._refused:
            journal = self._journals.get(execution_id) or self._journal_of(execution_id)
            journal.events[event.seq] = event  # written if it fails
            return
        self._put("event", event)

    async def execution_started(self, result: ExecutionResult) -> None:
        parent = result.parent_execution_id
        if parent is not None:
            root = self._roots.get(parent, parent)
            if root in self.fences:
                self._roots[result.execution_id] = root
            elif root in self._refused or parent in self._refused:
                self._refused.add(result.execution_id)  # its family is not stored
        self._put("started", result)

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        if execution_id not in self._cold:  # a cold one's end brings every node
            self._put("node", (execution_id, result))

    async def execution_finished(self, result: ExecutionResult) -> None:
        execution_id = result.execution_id
        cold = self._cold.get(execution_id)
        if cold is not None and execution_id in self._young and _counted(cold, result):
            # No batch has taken its record yet, and none will write anything of it but
            # its count: it is done, whoever waits on it need not wait for a batch.
            self._done.add(execution_id)
            if cold.recorded is not None and not cold.recorded.done():
                cold.recorded.set_result(None)
        self._put("finished", result)

    def _put(self, kind: str, payload: Any) -> None:
        if self._closed:
            return
        self._ops.append((kind, payload))
        if kind == "create":
            self._young.add(payload[0]["id"])
        elif kind == "finished" and self._young:
            self._young.discard(payload.execution_id)
            if not self._young and self._young_finished is not None:
                self._young_finished.set()
        if self._wake is not None:
            self._wake.set()

    # -- the writer task ----------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            await self._gather()
            self._wake.clear()
            ops, self._ops = self._ops, []
            self._young.clear()
            batch = self._collect(ops)
            if self._cold:
                self._count_done(batch)
                self._defer_cold(batch)
            self._busy = True
            try:
                lost = await self._write_isolated(batch)
                if self._counts and (self._counts.due(COUNT_EVERY_S) or _flushed(batch)):
                    await self._write_counts()
            finally:
                self._busy = False
            self._settle(batch, lost)

    def _count_done(self, batch: _Batch) -> None:
        """Take out of ``batch`` the cold executions it records that succeeded and keep a
        count: there is nothing to write of them but that, which ``_count`` adds up."""
        cold, finished = self._cold, batch.finished
        done = {
            execution_id: finished[execution_id]
            for execution, _, _ in batch.created
            if (execution_id := execution["id"]) in finished
            and execution_id in cold
            and _counted(cold[execution_id], finished[execution_id])
        }
        if not done:
            return
        batch.created = [c for c in batch.created if c[0]["id"] not in done]
        batch.drop(done)
        self._count(dict.fromkeys(done, "count"), done)
        for execution_id in done:
            recorded = cold.pop(execution_id).recorded
            if recorded is not None and not recorded.done():
                recorded.set_result(None)
            self._journals.pop(execution_id, None)
            self._done.discard(execution_id)

    def _defer_cold(self, batch: _Batch) -> None:
        """Leave out of ``batch`` the cold executions it would record running that are
        younger than ``COLD_GRACE_S``: they go into the next batch, or the one after the
        grace (the writer wakes then), unless they end first. Not when a ``flush()`` waits
        on the batch (it needs everything written), nor one a ``flush(execution_id)`` asks
        about (a node that needs its row, say)."""
        if _flushed(batch):
            return
        now, cold = time.monotonic(), self._cold
        asked = {execution_id for _, execution_id, _ in batch.waiters}
        deferred: list[tuple[str, Any]] = []
        for created in batch.created:
            execution_id = created[0]["id"]
            state = cold.get(execution_id)
            if state is None or execution_id in batch.finished or execution_id in asked:
                continue
            if now - state.since >= COLD_GRACE_S:
                continue
            deferred.append(("create", created))
            started = batch.started.pop(execution_id, None)
            if started is not None:
                deferred.append(("started", started))
        if not deferred:
            return
        moved = {op[1][0]["id"] for op in deferred if op[0] == "create"}
        batch.created = [c for c in batch.created if c[0]["id"] not in moved]
        self._ops[:0] = deferred
        self._young.update(moved)
        asyncio.get_running_loop().call_later(COLD_GRACE_S, self._wake_up)

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _settle(self, batch: _Batch, lost: dict[str, NotStored]) -> None:
        """Tell those waiting on the batch how it went."""
        for execution, _, future in batch.created:
            error = lost.get(execution["id"])
            if future.done():
                continue
            if error is not None and not error.recorded:
                future.set_exception(error)
            else:
                future.set_result(None)
        for execution_id in batch.finished:
            self._journals.pop(execution_id, None)
            self._cold.pop(execution_id, None)
            self._roots.pop(execution_id, None)
        for execution_id, error in lost.items():
            self._forget(execution_id, error, finished=execution_id in batch.finished)
        for waiter, asked, losses in batch.waiters:
            if not waiter.done():
                problem = self._problem(asked, losses)
                if problem is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(problem)

    def _forget(self, execution_id: str, error: NotStored, *, finished: bool) -> None:
        """Drop what is still to come of an execution that could not be stored, and stop it."""
        self._losses += 1
        self._lost[execution_id] = error
        if len(self._lost) > LOST_REMEMBERED:
            self._lost.popitem(last=False)
        self._journals.pop(execution_id, None)
        self._cold.pop(execution_id, None)
        if not finished:
            self._refused.add(execution_id)
            if self.on_lost is not None:
                self.on_lost(execution_id)

    def _problem(self, execution_id: str | None, losses: int) -> NotStored | None:
        """What a ``flush`` raises: the execution's loss, or any loss since it was asked."""
        if execution_id is not None:
            return self._lost.get(execution_id)
        if self._losses > losses:
            count = self._losses - losses
            return NotStored(f"the updates of {count} execution(s) could not be stored")
        return None

    async def _gather(self) -> None:
        """Let more updates gather before a batch is taken, so that they share its commit.

        While executions recorded since the last batch are still running, wait for them
        to finish (a short one then goes in whole, without hot rows), but no longer than
        ``BATCH_WINDOW_S``; otherwise, one turn of the event loop, for whatever else is
        ready to run to hand over its updates too."""
        if not self._young:
            await asyncio.sleep(0)
            return
        self._young_finished = asyncio.Event()
        try:
            async with asyncio.timeout(BATCH_WINDOW_S):
                await self._young_finished.wait()
        except TimeoutError:
            pass
        self._young_finished = None

    def _collect(self, ops: list[tuple[str, Any]]) -> _Batch:
        """Sort the operations by execution; every event also goes to its journal.

        All of them are taken at once: a node's event and its result are handed over
        together, so they are never split between two transactions.
        """
        batch = _Batch()
        journals = self._journals
        if self._refused:
            ops = self._without_refused(ops)
        for kind, payload in ops:
            if kind == "event":
                execution_id = payload.execution_id
                journal = journals.get(execution_id) or self._journal_of(execution_id)
                journal.events[payload.seq] = payload
                batch.events.setdefault(execution_id, {})[payload.seq] = payload
            elif kind == "node":
                execution_id, result = payload
                batch.nodes.setdefault(execution_id, {})[result.node_id] = result
            elif kind == "create":
                batch.created.append(payload)
            elif kind == "started":
                batch.started[payload.execution_id] = payload
                parent = self._cold.get(payload.parent_execution_id or "")
                if parent is not None:  # a sub-execution keeps what its parent keeps
                    self._cold.setdefault(payload.execution_id, _Cold(parent.keep, None))
            elif kind == "finished":
                batch.finished[payload.execution_id] = payload
            else:
                batch.waiters.append(payload)
        return batch

    def _without_refused(self, ops: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        kept = []
        for kind, payload in ops:
            execution_id = _execution_of(kind, payload)
            if execution_id in self._refused:
                if kind == "finished":
                    self._refused.discard(execution_id)
                    self._roots.pop(execution_id, None)
                continue
            kept.append((kind, payload))
        return kept

    async def _write_isolated(self, batch: _Batch) -> dict[str, NotStored]:
        """Write the batch; if it fails, write its executions apart and return those that
        could not be stored. Never raises (but cancellation): the writer goes on."""
        try:
            await self._write_checked(batch)
            return {}
        except Exception as exc:
            failure = exc
        groups = batch.families()
        logger.warning(
            "could not store the updates of %d executions together (%s); storing them apart",
            len(batch.ids()),
            reason(failure),
        )
        isolation = Isolation(batch.only, self._write_checked, self._write_failed)
        try:
            await isolation.bisect(groups, failure)
        except Exception as exc:  # a bug there must not stop the writer
            logger.exception("could not store the updates of %d executions", len(batch.ids()))
            isolation.lose(batch.ids(), exc, recorded=False)
        return isolation.lost

    async def _write_checked(self, batch: _Batch) -> None:
        """Write the batch; if some of its executions were deleted meanwhile (their rows
        would break foreign keys), write it again without them. New executions that cannot
        be recorded (say, their workflow was just deleted) fail alone."""
        try:
            await self._write(batch)
        except _Fenced as exc:
            self._fence(batch, exc.execution_ids)
            await self._write_checked(batch)
        except IntegrityError:
            created = batch.new()
            if created:
                kept, batch.created = batch.created, []
                try:
                    await self._write_apart(created, batch)
                finally:
                    batch.created = kept  # their futures are settled from the batch
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

    async def _write_apart(self, created: list[_Created], batch: _Batch) -> None:
        """Record the new executions one by one, then the rest of the batch without those
        refused (their updates still to come are dropped too, until they finish)."""
        refused = await self._create_one_by_one(created, batch.inserted)
        self._refused.update(refused - set(batch.finished))
        batch.drop(refused)
        for execution_id in refused:
            self._journals.pop(execution_id, None)
        await self._write_checked(batch)

    async def _create_one_by_one(
        self, created: list[_Created], batch_inserted: set[str]
    ) -> set[str]:
        """Record each new execution on its own; returns the ids of those refused (the
        others go into ``batch_inserted``)."""
        refused = set()
        for execution, data, future in created:
            try:
                async with self.db.begin() as connection:
                    await insert_created(connection, [execution], [data])
            except Exception as exc:
                refused.add(execution["id"])
                if not future.done():
                    future.set_exception(exc)
            else:
                batch_inserted.add(execution["id"])
        return refused

    async def _write(self, batch: _Batch) -> None:
        if batch.empty():
            return
        dialect = self.db.dialect
        created = batch.new()
        new = {execution["id"] for execution, _, _ in created}
        kept = self._kept_successes(batch)
        executions, data = self._created_rows(batch, created, kept)
        started = [
            r
            for execution_id, r in batch.started.items()
            if execution_id not in new and kept.get(execution_id) != "count"
        ]
        node_rows, event_rows = self._hot_rows(batch)
        parked = _parked(batch)
        finished = {
            k: r
            for k, r in batch.finished.items()
            if k not in new and k not in kept and k not in parked
        }
        old = {k: keep for k, keep in kept.items() if k not in new}
        if executions or started or node_rows or event_rows or finished or old or parked:
            async with self.db.begin() as connection:
                await self._check_fences(connection, batch)
                if executions:
                    await insert_created(connection, executions, data)
                if started:
                    await mark_started(connection, dialect, started)
                await self._write_hot(connection, dialect, batch, node_rows, event_rows)
                if finished:
                    await self._archive(connection, dialect, finished)
                if old:
                    await self._keep_less(connection, dialect, old, batch.finished)
                if parked:
                    await self._park(connection, dialect, parked)
                freed = await self._free_leases(connection, batch)
            self.freed.update(freed)  # (once committed)
        self._count(kept, batch.finished)  # once the batch is stored

    async def _free_leases(self, connection: AsyncConnection, batch: _Batch) -> list[str]:
        """Queue mode: free the leases of this worker's executions whose run ends in the
        batch (for good, or parked waiting), in the transaction that stores their end:
        nothing more of them is written here. Returns them."""
        ended = [k for k in batch.finished if k in self.fences]
        if ended:
            tokens = [{"b_id": k, "b_token": self.fences[k]} for k in ended]
            await connection.execute(RELEASE, tokens)
        return ended

    async def _check_fences(self, connection: AsyncConnection, batch: _Batch) -> None:
        """Raise ``_Fenced`` if another worker took over some of the batch's executions."""
        if not self.fences:
            return
        roots = {k: self._roots.get(k, k) for k in batch.ids()}
        tokens = {root: self.fences[root] for root in roots.values() if root in self.fences}
        if tokens:
            taken = await fenced(connection, tokens)
            if taken:  # (with their sub-executions, and the top-level ones stop too)
                raise _Fenced(taken | {k for k, root in roots.items() if root in taken})

    def _fence(self, batch: _Batch, execution_ids: set[str]) -> None:
        """Drop the updates of executions taken over by another worker, now and to come,
        and stop them here."""
        error = NotStored("another worker took the execution over", recorded=True)
        family = {child for root in execution_ids for child in self._children(root)}
        execution_ids = execution_ids | family  # (those not in the batch too)
        batch.drop(execution_ids)
        for execution_id in execution_ids:
            self.fences.pop(execution_id, None)
            self._roots.pop(execution_id, None)
            logger.warning("execution %s was taken over by another worker", execution_id)
            self._forget(execution_id, error, finished=False)

    def _kept_successes(self, batch: _Batch) -> dict[str, KeepSuccesses]:
        """The cold executions that succeeded in this batch, with what they keep."""
        cold = self._cold
        if not cold:
            return {}
        return {
            execution_id: cold[execution_id].keep
            for execution_id, result in batch.finished.items()
            if execution_id in cold and result.status is ExecutionStatus.SUCCEEDED
        }

    async def _keep_less(
        self,
        connection: AsyncConnection,
        dialect: str,
        kept: dict[str, KeepSuccesses],
        finished: dict[str, ExecutionResult],
    ) -> None:
        """End the successes recorded by earlier batches that keep less than everything:
        a summary's row is finished with the summary result, a count's row deleted."""
        summaries = [k for k, keep in kept.items() if keep == "summary"]
        if summaries:
            ends = [{"b_id": k, **ending(finished[k], {})} for k in summaries]
            await connection.execute(FINISH, ends)
            blobs = [{"execution_id": k, "result": SUMMARY_BLOB} for k in summaries]
            statement = upsert(dialect, ExecutionDataRow, ("execution_id",), ("result",))
            await connection.execute(statement, blobs)
        hot = [k for k in summaries if self._journal(k).hot]
        if hot:  # written before it was cold (an earlier process, say)
            await connection.execute(delete(NodeRunRow).where(NodeRunRow.execution_id.in_(hot)))
            await connection.execute(delete(EventRow).where(EventRow.execution_id.in_(hot)))
        counted = [k for k, keep in kept.items() if keep == "count"]
        if counted:  # its data and hot rows go with it
            await connection.execute(delete(ExecutionRow).where(ExecutionRow.id.in_(counted)))

    def _count(self, kept: dict[str, KeepSuccesses], finished: dict[str, ExecutionResult]) -> None:
        """Add the successes kept as a count to the counts to write (``_write_counts``)."""
        for execution_id, keep in kept.items():
            workflow_id = self._cold[execution_id].workflow_id
            if keep == "count" and workflow_id is not None:
                at = finished[execution_id].finished_at or utcnow()
                if self._counts.add(workflow_id, at):
                    asyncio.get_running_loop().call_later(COUNT_EVERY_S, self._wake_up)

    async def _write_counts(self) -> None:
        """Write the counts; kept for the next try if the database refuses them."""
        counts = self._counts.take()
        try:
            async with self.db.begin() as connection:
                await write_counts(connection, counts)
        except SQLAlchemyError as exc:
            logger.warning("could not store the counts of successes not kept: %s", reason(exc))
            for workflow_id, (count, at) in counts.items():
                if self._counts.add(workflow_id, at, count):
                    asyncio.get_running_loop().call_later(COUNT_EVERY_S, self._wake_up)

    def _created_rows(
        self, batch: _Batch, created: list[_Created], kept: dict[str, KeepSuccesses]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of the executions recorded in this batch, as they stand at its end: a
        finished one goes in whole (its hot rows are never written), a started one as
        running; a success kept as a summary goes in with the summary result, one kept as
        a count not at all."""
        executions, data = [], []
        for execution, data_row, _ in created:
            execution_id = execution["id"]
            result = batch.finished.get(execution_id)
            if result is not None and result.status is ExecutionStatus.WAITING:
                result = None  # inserted running, then parked (``_park``)
            keep = kept.get(execution_id)
            if keep == "count":
                continue
            if result is not None and keep == "summary":
                execution = {**execution, **ending(result, {})}
                data_row = {**data_row, "result": SUMMARY_BLOB, "reuse": None}
            elif result is not None:
                events = self._journal(execution_id).events
                execution = {**execution, **ending(result, events)}
                data_row = {**data_row, "result": _result_blob(result, events), "reuse": None}
            elif execution_id in batch.started:
                execution = {**execution, "status": batch.started[execution_id].status.value}
            executions.append(execution)
            data.append(data_row)
        return executions, data

    async def _write_failed(self, batch: _Batch, error: ErrorInfo) -> None:
        """Record the executions of ``batch`` as failed with ``error``, with each of their
        updates that can be stored on its own, as hot rows: they read back as those of an
        unfinished execution do (no result blob is written)."""
        ended = {
            "status": ExecutionStatus.FAILED.value,
            "finished_at": utcnow(),
            "error": error.model_dump(),
        }
        node_rows = [
            {"execution_id": execution_id, "node_id": node_id, "data": storable_node(result)}
            for execution_id, nodes in batch.nodes.items()
            for node_id, result in nodes.items()
        ]
        event_rows = storable_events(batch.events)
        last_seq: dict[str, int] = {}
        for row in event_rows:
            last_seq[row["execution_id"]] = max(last_seq.get(row["execution_id"], 0), row["seq"])
        created = batch.new()
        new = {execution["id"] for execution, _, _ in created}
        old = [execution_id for execution_id in batch.ids() if execution_id not in new]
        async with self.db.begin() as connection:
            if created:
                executions = [
                    {**execution, **ended, "last_seq": last_seq.get(execution["id"], 0)}
                    for execution, _, _ in created
                ]
                await insert_created(connection, executions, [data for _, data, _ in created])
            started = [r for execution_id, r in batch.started.items() if execution_id not in new]
            if started:
                await mark_started(connection, self.db.dialect, started)
            await put_hot(connection, self.db.dialect, node_rows, event_rows)
            if old:
                await connection.execute(FAIL, [{"b_id": k, **ended} for k in old])
            seqs = [{"b_id": k, "last_seq": seq} for k, seq in last_seq.items() if k not in new]
            if seqs:
                await connection.execute(LAST_SEQ, seqs)

    def _journal(self, execution_id: str) -> _Journal:
        return self._journals.get(execution_id) or _Journal()

    def _journal_of(self, execution_id: str) -> _Journal:
        """The execution's journal, made if it has none yet."""
        return self._journals.setdefault(execution_id, _Journal())

    def _hot_rows(self, batch: _Batch) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Node results and events of executions that go on after this batch (but cold
        ones: their events are in their journals, and their end brings every node)."""
        finished, cold = _ended(batch), self._cold
        node_rows: list[dict[str, Any]] = [
            {"execution_id": execution_id, "node_id": node_id, "data": node_data(result)}
            for execution_id, nodes in batch.nodes.items()
            if execution_id not in finished and execution_id not in cold
            for node_id, result in nodes.items()
        ]
        event_rows: list[dict[str, Any]] = [
            {"execution_id": execution_id, "seq": seq, "data": codec.model_bytes(event).decode()}
            for execution_id, events in batch.events.items()
            if execution_id not in finished and execution_id not in cold
            for seq, event in events.items()
        ]
        return node_rows, event_rows

    async def _write_hot(
        self,
        connection: AsyncConnection,
        dialect: str,
        batch: _Batch,
        node_rows: list[dict[str, Any]],
        event_rows: list[dict[str, Any]],
    ) -> None:
        """The hot rows of ``_hot_rows``, and the executions' ``last_seq``."""
        finished, cold = _ended(batch), self._cold
        await put_hot(connection, dialect, node_rows, event_rows)
        if event_rows:
            last_seq = [
                {"b_id": execution_id, "last_seq": max(events)}
                for execution_id, events in batch.events.items()
                if execution_id not in finished and execution_id not in cold
            ]
            await connection.execute(LAST_SEQ, last_seq)
        for execution_id in {row["execution_id"] for row in (*node_rows, *event_rows)}:
            self._journals.setdefault(execution_id, _Journal()).hot = True

    async def _park(
        self, connection: AsyncConnection, dialect: str, parked: dict[str, ExecutionResult]
    ) -> None:
        """Store executions whose run ended ``waiting``: their status and, for a cold one
        (nothing of it written until its end), every node and event so far, as hot rows:
        it resumes from them, in whichever process decides it."""
        cold = [execution_id for execution_id in parked if execution_id in self._cold]
        if cold:
            journals = {execution_id: self._journal(execution_id) for execution_id in cold}
            node_rows = [
                {"execution_id": k, "node_id": node_id, "data": node_data(result)}
                for k in cold
                for node_id, result in parked[k].nodes.items()
            ]
            event_rows = storable_events({k: journal.events for k, journal in journals.items()})
            await put_hot(connection, dialect, node_rows, event_rows)
            seqs = [
                {"b_id": k, "last_seq": max(journal.events)}
                for k, journal in journals.items()
                if journal.events
            ]
            if seqs:
                await connection.execute(LAST_SEQ, seqs)
        await connection.execute(PARK, [{"b_id": execution_id} for execution_id in parked])

    async def _archive(
        self, connection: AsyncConnection, dialect: str, finished: dict[str, ExecutionResult]
    ) -> None:
        """Fold finished executions into their result blobs; drop their hot rows."""
        blobs, ends, hot = [], [], []
        for execution_id, result in finished.items():
            journal = self._journal(execution_id)
            events: Mapping[int, Event | str] = journal.events
            if journal.resumed:
                events = {**await stored_events(connection, execution_id), **journal.events}
            if journal.hot:
                hot.append(execution_id)
            blob = _result_blob(result, events)
            blobs.append({"execution_id": execution_id, "result": blob, "reuse": None})
            ends.append({"b_id": execution_id, **ending(result, events)})
        await connection.execute(FINISH, ends)
        # (what a retry took over from an earlier execution is in its result now)
        statement = upsert(dialect, ExecutionDataRow, ("execution_id",), ("result", "reuse"))
        await connection.execute(statement, blobs)
        if hot:
            await connection.execute(delete(NodeRunRow).where(NodeRunRow.execution_id.in_(hot)))
            await connection.execute(delete(EventRow).where(EventRow.execution_id.in_(hot)))


class _Fenced(Exception):
    def __init__(self, execution_ids: set[str]) -> None:
        super().__init__(f"taken over by another worker: {sorted(execution_ids)}")
        self.execution_ids = execution_ids


def _counted(cold: _Cold, result: ExecutionResult) -> bool:
    """Whether the execution ended in a success of which only a count is kept."""
    return cold.keep == "count" and result.status is ExecutionStatus.SUCCEEDED


def _parked(batch: _Batch) -> dict[str, ExecutionResult]:
    """The executions of the batch whose run ended ``waiting`` (they go on later)."""
    return {k: r for k, r in batch.finished.items() if r.status is ExecutionStatus.WAITING}


def _ended(batch: _Batch) -> set[str]:
    """The executions of the batch that ended for good (not those that wait)."""
    return {k for k, r in batch.finished.items() if r.status is not ExecutionStatus.WAITING}


def _flushed(batch: _Batch) -> bool:
    """Whether a ``flush()`` waits on the batch: everything must be written."""
    return any(asked is None for _, asked, _ in batch.waiters)


def _execution_of(kind: str, payload: Any) -> str | None:
    if kind in ("event", "started", "finished"):
        return str(payload.execution_id)
    if kind == "node":
        return str(payload[0])
    if kind == "create":
        return str(payload[0]["id"])
    return None
