"""Executions as the API, the webhooks and ``tav run`` use them: start a stored workflow
or a document, run from an earlier execution, retry, cancel, delete, wait until ended and
stored, get; and, for the host's start, resume what a dead process left unfinished.

``Executions`` keeps the executions this process runs (``running``) and whether it takes
new ones (``accepting``: the host clears it when it shuts down, and starting one then
raises ``Unavailable``). It is the triggers' ``Launcher`` too.

Waiting is the subtle part, and why it lives here rather than in each caller: an answer
that says an execution ended must also mean it is stored, as a later GET returns it. So
``finished`` waits for the end and then for the writer to have committed everything the
execution did, and raises ``NotStored`` if it could not be.

What is stored of a success follows the workflow's ``settings.keep_successes``, else the
runtime setting (``keep_default``): all of it, its summary, or a count. A run from the
editor, a retry and a run from a node keep everything: they are how a person looks into a
workflow.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tav.app.plans import Plans
from tav.app.queued import CancelNotFound, Queue, QueuedHandle
from tav.core.errors import (
    Conflict,
    FailureKind,
    InputInvalid,
    NotFound,
    NotStored,
    TavError,
    Unavailable,
)
from tav.core.modes import ExecutionMode
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.roles import UserRef
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.waits import Decider, WaitOutcome
from tav.core.workflow import KeepSuccesses
from tav.engine.executor import ExecutionHandle, Executor, Resume, RunOptions
from tav.engine.plan import ExecutionPlan
from tav.engine.ports import EventBus
from tav.engine.rerun import reusable
from tav.storage import owners
from tav.storage.config import VariableRepository
from tav.storage.executions import (
    ExecutionRecord,
    ExecutionRepository,
    ExecutionSummary,
    new_execution,
)
from tav.storage.files import FileStore
from tav.storage.leases import Lease
from tav.storage.watch import watch
from tav.storage.workflows import StoredWorkflow, WorkflowRepository
from tav.storage.writer import ExecutionWriter
from tav.triggers.ports import TriggeredWorkflow

if TYPE_CHECKING:
    from tav.app.waits import Waits

logger = logging.getLogger("tav.app")
RUN_WORKFLOWS = frozenset({"core.subworkflow", "core.map", "ai.agent"})
"""The node types that run child executions (ai.agent: its tool workflows), which may be
left waiting when the execution ends."""


@dataclass(frozen=True)
class StartedRun:
    """An execution that was started, with what it records.

    ``recorded`` is done once the execution is committed (recorded with what it did until
    then, see ``ExecutionWriter.record``); it fails with ``NotStored`` if it could not be
    recorded, and the execution is then cancelled. ``record(result)`` is the finished
    execution exactly as the store gives it back (``ExecutionRepository.get``) once the
    writer has written it, built from memory: the stored fields are the ones recorded
    here, and everything else comes from the result the store keeps (as JSON:
    ``ExecutionRecord.to_json`` of the two is the same). A success that ``keep`` keeps
    less of is given whole all the same, with ``kept`` saying what was stored of it."""

    handle: ExecutionHandle | QueuedHandle
    """The execution running here, or (queue mode) queued for a worker."""
    recorded: asyncio.Future[None]
    workflow: str
    workflow_id: str | None
    workflow_version: int | None
    mode: ExecutionMode
    input: Any
    """As given (JSON data: what is stored is its JSON)."""
    started_at: datetime
    retry_of: str | None = None
    keep: KeepSuccesses = "all"
    started_by: UserRef | None = None

    def record(self, result: ExecutionResult) -> ExecutionRecord:
        return ExecutionRecord(
            execution_id=result.execution_id,
            workflow=self.workflow,
            workflow_id=self.workflow_id,
            workflow_version=self.workflow_version,
            status=result.status,
            mode=self.mode,
            parent_execution_id=None,
            retry_of=self.retry_of,
            error=result.error,
            started_at=self.started_at,
            finished_at=result.finished_at,
            duration_ms=result.duration_ms,
            input=self.input,
            output=result.output,
            nodes=result.nodes,
            last_seq=0,
            kept=self.keep if result.status is ExecutionStatus.SUCCEEDED else "all",
            started_by=self.started_by,
        )


@dataclass(frozen=True, slots=True)
class Ran:
    """What an earlier execution ran: its document, and its stored workflow at the
    version it ran (``None`` for a document run as it was, such as by ``tav run``)."""

    document: dict[str, Any]
    stored: StoredWorkflow | None

    @property
    def source(self) -> str | None:
        return f"workflow:{self.stored.id}" if self.stored is not None else None


class Executions:
    def __init__(
        self,
        *,
        executions: ExecutionRepository,
        workflows: WorkflowRepository,
        writer: ExecutionWriter,
        executor: Executor,
        bus: EventBus,
        plans: Plans,
        files: FileStore,
        variables: VariableRepository,
        vars: Mapping[str, Any],
        keep_default: Callable[[], KeepSuccesses] = lambda: "all",
        queue: Queue | None = None,
    ) -> None:
        """``bus``: where the executor's events are watched (``watch``); ``vars``: the
        global variables of the environment (``TAV_VARS``), under those set over the API;
        ``keep_default``: what is kept of a success of a workflow that does not say (the
        runtime setting in force); ``queue``: queue mode, where executions are committed
        as queued and published for a worker to run (``tav.app.queued``) rather than run
        here."""
        self.queue = queue
        self.executions = executions
        self.workflows = workflows
        self.writer = writer
        self.executor = executor
        self.bus = bus
        self.plans = plans
        self.files = files
        self.variables = variables
        self.vars = dict(vars)
        self.keep_default = keep_default
        self.running: dict[str, ExecutionHandle] = {}
        self.waits: Waits | None = None
        """Durable waits (``tav.app.waits``), set by the composition root: what a parked
        execution resumes with."""
        self.accepting = False
        """Whether new executions start (the host's lifecycle sets it)."""

    # -- starting -------------------------------------------------------------------------

    async def start(
        self,
        workflow_id: str,
        input: Any = None,
        *,
        from_execution: str | None = None,
        start_at: Collection[str] = (),
        same_input: bool = False,
        mode: ExecutionMode = ExecutionMode.API,
        started_by: UserRef | None = None,
    ) -> StartedRun:
        """Start the stored workflow (for the member ``started_by``). With
        ``from_execution`` (run from node), reuse that execution's settled outputs for
        every node that does not run again: the ``start_at`` nodes with everything
        downstream, and whatever did not succeed; with ``same_input``, its input too."""
        stored = await self._workflow(workflow_id)
        reuse = None
        if from_execution is not None:
            earlier = await self.get(from_execution)
            if earlier.workflow_id != stored.id:
                raise InputInvalid(f"execution {earlier.execution_id!r} did not run this workflow")
            plan = await self.plans.compile_off_loop(stored.document)
            reuse = reusable(plan, earlier.nodes, start_at)
            input = earlier.input if same_input else input
        elif start_at:
            raise InputInvalid("start_at needs from_execution: the execution to reuse from")
        return await self.start_run(
            stored.document, input, stored=stored, reuse=reuse, mode=mode, started_by=started_by
        )

    async def retry(self, execution_id: str, *, started_by: UserRef | None = None) -> StartedRun:
        """Run a failed or cancelled execution again, as a new execution of the same
        workflow version: nodes that succeeded keep their outputs, the rest run."""
        record = await self._record(execution_id)
        if record.status is ExecutionStatus.SUCCEEDED:
            raise Conflict("the execution succeeded; there is nothing to retry")
        if not record.status.is_terminal:
            raise Conflict("the execution is still running")
        ran = await self._ran(record)
        reuse = reusable(await self.plans.compile_off_loop(ran.document), record.nodes)
        return await self.start_run(
            ran.document,
            record.input,
            stored=ran.stored,
            reuse=reuse,
            mode=ExecutionMode.RETRY,
            retry_of=record.execution_id,
            started_by=started_by,
        )

    async def launch(
        self,
        workflow: TriggeredWorkflow,
        payload: Any,
        *,
        mode: ExecutionMode,
        skip: frozenset[str],
    ) -> StartedRun:
        """Start a stored workflow from one of its triggers (``tav.triggers.ports.Launcher``);
        ``skip``: its other trigger nodes."""
        assert isinstance(workflow, StoredWorkflow)  # what the manager got from the repository
        return await self.start_run(
            workflow.document, payload, stored=workflow, mode=mode, skip=skip
        )

    async def run(
        self,
        document: Mapping[str, Any],
        input: Any = None,
        *,
        stored: StoredWorkflow | None = None,
        mode: ExecutionMode = ExecutionMode.API,
        source: str | None = None,
    ) -> ExecutionHandle:
        """Start an execution here and return once it is recorded (see ``start_run``)."""
        started = await self.start_run(
            document, input, stored=stored, mode=mode, source=source, here=True
        )
        await started.recorded
        assert isinstance(started.handle, ExecutionHandle)  # (``here``)
        return started.handle

    async def start_run(
        self,
        document: Mapping[str, Any],
        input: Any = None,
        *,
        stored: StoredWorkflow | None = None,
        mode: ExecutionMode = ExecutionMode.API,
        reuse: Mapping[str, NodeResult] | None = None,
        execution_id: str | None = None,
        source: str | None = None,
        skip: frozenset[str] = frozenset(),
        retry_of: str | None = None,
        started_by: UserRef | None = None,
        here: bool = False,
    ) -> StartedRun:
        """Start an execution of ``document`` (``stored``'s, if it is a stored workflow's)
        and have it recorded; returns at once, before the record is committed
        (``StartedRun.recorded``): the execution is recorded in the same transaction as
        the first things it does.

        ``source`` is where an ad-hoc document came from (a file path: sub-workflow refs
        are relative to it); a stored workflow's is its id. ``here``: run it in this
        process even in queue mode."""
        if not self.accepting:
            raise Unavailable("the server is shutting down")
        if stored:
            source = f"workflow:{stored.id}"
        plan = await self.plans.compile_off_loop(document, source=source)
        execution, data = new_execution(
            execution_id or uuid.uuid4().hex,
            workflow=plan.name,
            workflow_id=stored.id if stored else None,
            workflow_version=stored.version if stored else None,
            mode=mode,
            input=input,
            document=None if stored else dict(document),
            retry_of=retry_of,
            owner=owners.this_process() if mode == ExecutionMode.CLI else None,
            started_by=started_by.id if started_by else None,
            reuse=reuse,
        )
        global_vars = await self.global_vars()
        looking = mode is ExecutionMode.EDITOR or reuse is not None or retry_of is not None
        keep: KeepSuccesses = "all" if looking else self.keep(plan)
        handle: ExecutionHandle | QueuedHandle
        # Queue mode: a worker runs it (a retry or a run from a node too: the results it
        # takes over are stored with it, for the worker).
        if self.queue is not None and not here:
            execution["skip"] = sorted(skip) if skip else None
            await self.queue.enqueue(execution, data)
            handle = self.queue.handle(execution["id"])
            recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            recorded.set_result(None)
        else:
            recorded = self.writer.record(execution, data, keep=keep)
            options = RunOptions(
                execution_id=execution["id"],
                reuse=reuse,
                vars=global_vars,
                started_at=execution["started_at"],
                skip=skip,
            )
            local = self.executor.start(plan, input, options)
            self._track(local, plan)
            recorded.add_done_callback(lambda done: _cancel_unless_recorded(done, local))
            handle = local
        return StartedRun(
            handle=handle,
            recorded=recorded,
            workflow=execution["workflow_name"],
            workflow_id=execution["workflow_id"],
            workflow_version=execution["workflow_version"],
            mode=mode,
            input=input,
            started_at=execution["started_at"],
            retry_of=retry_of,
            keep=keep,
            started_by=started_by,
        )

    def keep(self, plan: ExecutionPlan) -> KeepSuccesses:
        """What is stored of a success of ``plan``: its workflow's setting, else the
        runtime setting."""
        settings = plan.workflow.settings
        if settings is not None and settings.keep_successes is not None:
            return settings.keep_successes
        return self.keep_default()

    async def global_vars(self) -> dict[str, Any]:
        """``vars`` of every execution: TAV_VARS, overridden by variables set over the API."""
        return {**self.vars, **await self.variables.all()}

    # -- stopping and removing ------------------------------------------------------------

    async def cancel(self, execution_id: str) -> ExecutionHandle | QueuedHandle:
        """Cancel an execution: running nodes are cancelled at once, nodes yet to start
        never run. Returns its handle, to wait for its end.

        Queue mode: the worker running it stops it (``Queue.cancel``); one that no worker
        holds (still queued, or its worker died) is claimed and cancelled here at once,
        so no worker ever starts it."""
        handle = self.running.get(execution_id)
        if handle is not None and not handle.done():
            handle.cancel()
            return handle
        # One that waited (its links are dead now) is resumed to be cancelled: here, or
        # (queue mode) as a queued one is, below; so are the child executions it waited
        # for, once its waits for them are cancelled (their ends then settle nothing).
        waited = await self._waited_children(execution_id)
        cancelled = self.waits is not None and await self.waits.repository.cancel(execution_id)
        if cancelled:
            for child_id in waited:
                await self._cancel_child(child_id)
        if cancelled and self.queue is None:
            return await self.resume(await self._record(execution_id))
        if self.queue is None:
            raise await self._not_cancellable(execution_id)
        try:
            lease = await self.queue.cancel(execution_id)
        except CancelNotFound:
            if cancelled:  # a worker resumed it meanwhile, and ended it for its waits' sake
                return self.queue.handle(execution_id)
            raise await self._not_cancellable(execution_id) from None
        if lease is not None:
            await self._cancel_here(lease)
        return self.queue.handle(execution_id)

    async def _cancel_child(self, execution_id: str) -> None:
        """Cancel a child execution its parent's cancelled node waited for: one that waits
        (with the children it waits for) as a waiting execution is, one that runs (its
        wait was decided) where it runs. Done before its parent is, so that a worker's
        takeover of the parent finds it ended or held."""
        assert self.waits is not None
        waited = await self._waited_children(execution_id)
        parked = await self.waits.repository.cancel(execution_id)
        for child_id in waited if parked else ():
            await self._cancel_child(child_id)
        handle = self.running.get(execution_id)
        if handle is not None and not handle.done():
            handle.cancel()
        elif self.queue is None:
            if parked:
                await self.resume(await self._record(execution_id))
        else:
            lease = await self.queue.cancel(execution_id, child=True)
            if lease is not None:
                await self._cancel_here(lease)

    async def _waited_children(self, execution_id: str) -> list[str]:
        """The child executions the open waits of ``execution_id`` wait for."""
        if self.waits is None:
            return []
        records = (await self.waits.of([execution_id])).get(execution_id, [])
        return [
            child_id
            for record in records
            if record.status == "open" and record.request.children is not None
            for child_id in record.request.children.executions
        ]

    async def _cancel_here(self, lease: Lease) -> None:
        """Run the claimed execution here, cancelled from the start (no node runs): its
        record and events are those of any execution cancelled as it started."""
        assert self.queue is not None
        execution_id = lease.execution_id
        self.writer.fences[execution_id] = lease.token
        try:
            record = await self._record(execution_id)
            try:
                handle = await self.resume(record, skip=lease.skip)
            except TavError as exc:  # its workflow is gone, say: nothing to run
                error = ErrorInfo(type=FailureKind.RESUME_FAILED, message=f"cannot run: {exc}")
                await self.executions.mark(execution_id, ExecutionStatus.CANCELLED, error)
                return
            handle.cancel()
            await handle.wait()
            with suppress(NotStored):  # taken over meanwhile: the new holder cancels it
                await self.writer.flush(execution_id)
        finally:
            self.writer.fences.pop(execution_id, None)
            if not self.writer.lease_freed(execution_id):  # (else freed with its end)
                await self.queue.leases.release(lease)

    def stop(self, execution_id: str) -> None:
        """Cancel the execution if it runs here (its updates could not be stored, say)."""
        handle = self.running.get(execution_id)
        if handle is not None:
            handle.cancel()

    async def delete(self, execution_id: str) -> list[str]:
        """Delete an ended execution with the sub-executions it started, at any depth, and
        their files; returns the ids deleted."""
        status = await self.executions.status(execution_id)
        if status is None:
            raise _unknown(execution_id)
        if not status.is_terminal or execution_id in self.running:
            raise Conflict("the execution is still running; cancel it first")
        deleted = await self.executions.delete(execution_id)
        for gone in deleted:
            await self.files.remove_execution(gone)
        return deleted

    # -- waiting and reading --------------------------------------------------------------

    async def written(self, execution_id: str) -> None:
        """Return once everything the execution did so far is committed; ``NotStored`` if
        some of it could not be (now or before)."""
        await self.writer.flush(execution_id)

    async def finished(
        self, handle: ExecutionHandle | QueuedHandle, started: StartedRun | None = None
    ) -> ExecutionRecord:
        """Wait until the execution has ended and is stored, and return it as stored.

        For an execution ``started`` here, that is built from memory once the writer has
        committed it (the same as a later ``get``); otherwise, or if the writer stopped
        meanwhile (the execution resumes on the next start), it is read back. Raises
        ``NotStored`` for an execution whose updates could not be stored, rather than
        answer as if they had been."""
        result = await handle.wait()
        await self.written(handle.execution_id)
        if started is None or not self.writer.writing or isinstance(handle, QueuedHandle):
            return await self.get(handle.execution_id)
        await started.recorded  # done by now
        return started.record(result)

    async def get(self, execution_id: str) -> ExecutionRecord:
        """As stored, once everything it has done so far is written (an execution that
        could not be stored shows as it was recorded: failed, saying why)."""
        with suppress(NotStored):
            await self.written(execution_id)
        return await self._record(execution_id)

    async def status(self, execution_id: str) -> ExecutionStatus:
        status = await self.executions.status(execution_id)
        if status is None:
            raise _unknown(execution_id)
        return status

    async def find(
        self,
        *,
        workflow_id: str | None = None,
        status: ExecutionStatus | None = None,
        mode: ExecutionMode | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        decidable_by: Decider | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ExecutionSummary], int]:
        """Newest first, and how many there are in all; each filter given narrows it.
        ``decidable_by``: only the waiting executions with a wait this person may decide
        now (``Waits.decidable_by``)."""
        ids = None
        if decidable_by is not None:
            ids = await self.waits.decidable_by(decidable_by) if self.waits is not None else set()
        return await self.executions.find(
            workflow_id=workflow_id,
            status=status.value if status else None,
            mode=mode.value if mode else None,
            started_after=started_after,
            started_before=started_before,
            ids=ids,
            limit=limit,
            offset=offset,
        )

    async def not_kept(self, workflow_id: str | None = None) -> tuple[int, datetime | None]:
        """Successful executions not stored, as their workflow keeps only a count (of
        ``workflow_id``, or of all), and when the last ended: the stored counts and those
        the writer has yet to write."""
        stored, stored_last = await self.executions.not_kept(workflow_id)
        pending, pending_last = self.writer.not_kept(workflow_id)
        last = max(filter(None, (stored_last, pending_last)), default=None)
        return stored + pending, last

    def watch(self, execution_id: str, *, after: int = 0) -> AsyncGenerator[dict[str, Any], None]:
        """Every event of the execution after ``after``: the stored ones, then live ones;
        ends after its final event. Close it to stop watching."""
        return watch(self.executions, self.bus, execution_id, after=after)

    # -- the host's start -----------------------------------------------------------------

    async def settle_abandoned(self) -> list[str]:
        """Fail the executions of ``tav run`` processes of this host that died before they
        finished (killed, say); returns their ids. A retry runs what they left."""
        gone = ErrorInfo(
            type=FailureKind.CRASHED,
            message="the `tav run` process running it stopped before it finished; "
            "retry it to run the rest",
        )
        abandoned = [
            execution_id
            for execution_id, owner in await self.executions.owned_unfinished()
            if owners.is_gone(owner)
        ]
        for execution_id in abandoned:
            await self.executions.mark(execution_id, ExecutionStatus.FAILED, gone)
        return abandoned

    async def resume_unfinished(self) -> list[str]:
        """Resume executions a dead process left queued or running; returns their ids.

        Sub-executions are not resumed: their parent's node runs them again, under a new
        id, so the interrupted ones are marked failed. Executions of ``tav run`` are left
        alone: that process may still be running them (``settle_abandoned`` settles those
        whose process is gone)."""
        crashed = ErrorInfo(
            type=FailureKind.CRASHED,
            message="the process running it stopped; its parent runs it again",
        )
        await self.executions.settle_orphans(crashed)
        resumed = []
        for record in await self.executions.unfinished(exclude_modes=(ExecutionMode.CLI,)):
            try:
                handle = await self.resume(record)
            except Exception as exc:  # one that cannot resume must not keep the rest back
                logger.warning("cannot resume execution %s: %s", record.execution_id, exc)
                error = ErrorInfo(type=FailureKind.RESUME_FAILED, message=f"cannot resume: {exc}")
                await self.executions.mark(record.execution_id, ExecutionStatus.FAILED, error)
                continue
            resumed.append(handle.execution_id)
        return resumed

    async def resume(
        self,
        record: ExecutionRecord,
        *,
        skip: frozenset[str] = frozenset(),
        reuse: dict[str, NodeResult] | None = None,
    ) -> ExecutionHandle:
        """Run an unfinished execution here, from its settled nodes on (all of them, if
        it has not stored anything yet); ``skip``: its trigger nodes settled as skipped;
        ``reuse``: the earlier results it takes over, when already read (else read here)."""
        ran = await self._ran(record)
        plan = await self.plans.compile_off_loop(ran.document, source=ran.source)
        settled = {
            node_id: result
            for node_id, result in record.nodes.items()
            if result.status is not NodeStatus.CANCELLED and node_id in plan.nodes
        }
        settles, cancelled = await self._decided(record)
        # Nothing stored yet (not even ``execution.started``): start it over, from seq 1.
        resume = (
            Resume(
                results=settled,
                last_seq=record.last_seq,
                started_at=record.started_at,
                settles=settles,
            )
            if record.last_seq
            else None
        )
        if resume is not None:
            self.writer.resuming(record.execution_id)
        parent = record.parent_execution_id
        if parent is not None:  # a child that waited: its parent's node takes its output
            self.writer.keeping(record.execution_id, "all", workflow_id=record.workflow_id)
        elif record.retry_of is None and record.mode is not ExecutionMode.EDITOR:  # as it began
            keep = self.keep(plan)
            self.writer.keeping(record.execution_id, keep, workflow_id=record.workflow_id)
        options = RunOptions(
            execution_id=record.execution_id,
            reuse=reuse if reuse is not None else await self.executions.reuse(record.execution_id),
            resume=resume,
            vars=await self.global_vars(),
            started_at=record.started_at,
            skip=skip,
            parent_execution_id=parent,
            depth=await self.executions.depth(record.execution_id) if parent else 0,
        )
        handle = self.executor.start(plan, record.input, options)
        self._track(handle, plan)
        if parent is not None and self.waits is not None:
            waits, child_id = self.waits, record.execution_id
            handle.add_done_callback(lambda: waits.run_ended(child_id, parent))
        if cancelled:  # cancelled while it waited: its waiting nodes are cancelled
            handle.cancel()
        logger.info("resumed execution %s (%d settled nodes)", record.execution_id, len(settled))
        return handle

    async def _decided(self, record: ExecutionRecord) -> tuple[dict[str, WaitOutcome], bool]:
        """The outcomes of the decided waits of the nodes ``record`` has waiting, and
        whether it was cancelled while it waited."""
        waiting = [k for k, result in record.nodes.items() if result.status is NodeStatus.WAITING]
        if not waiting or self.waits is None:
            return {}, False
        return await self.waits.settles(record.execution_id, waiting)

    # -- helpers --------------------------------------------------------------------------

    def _track(self, handle: ExecutionHandle, plan: ExecutionPlan) -> None:
        self.running[handle.execution_id] = handle
        handle.add_done_callback(lambda: self._ended(handle))
        waits = self.waits
        if waits is not None and any(
            n.node_type.spec.type in RUN_WORKFLOWS for n in plan.nodes.values()
        ):
            execution_id = handle.execution_id
            handle.add_done_callback(lambda: waits.later(self.cancel_left_children(execution_id)))

    async def cancel_left_children(self, execution_id: str) -> None:
        """Once an execution has ended for good (failed, cancelled), cancel the child
        executions it left waiting (a core.map item that waited while another failed
        under ``stop``, a node waiting for a child that the execution's stop cancelled)."""
        try:
            with suppress(NotStored):
                await self.written(execution_id)
            status = await self.executions.status(execution_id)
            if status is None or not status.is_terminal:
                return
            for child_id in await self.executions.waiting_children(execution_id):
                await self._cancel_child(child_id)
        except Exception:  # (in the background: said, not raised)
            logger.exception("cancelling what execution %s left waiting failed", execution_id)

    def _ended(self, handle: ExecutionHandle) -> None:
        self.running.pop(handle.execution_id, None)
        waiting = handle.waiting
        if waiting and self.waits is not None:
            self.waits.parked(handle.execution_id, waiting)

    async def _workflow(self, workflow_id: str) -> StoredWorkflow:
        stored = await self.workflows.get(workflow_id)
        if stored is None:
            raise NotFound(f"no workflow with id {workflow_id!r}")
        return stored

    async def _record(self, execution_id: str) -> ExecutionRecord:
        record = await self.executions.get(execution_id)
        if record is None:
            raise _unknown(execution_id)
        return record

    async def _ran(self, record: ExecutionRecord) -> Ran:
        """The document an execution ran; ``Conflict`` if it is no longer stored."""
        if record.workflow_id is not None and record.workflow_version is not None:
            workflow_id, version = record.workflow_id, record.workflow_version
            stored = await self.workflows.get(workflow_id)
            document = await self.workflows.version_document(workflow_id, version)
            if stored is not None and document is not None:
                at_version = {"version": version, "document": document}
                return Ran(document, stored.model_copy(update=at_version))
        elif (document := await self.executions.document(record.execution_id)) is not None:
            return Ran(document, None)
        raise Conflict("the workflow this execution ran is no longer stored")

    async def _not_cancellable(self, execution_id: str) -> Exception:
        status = await self.executions.status(execution_id)
        if status is None:
            return _unknown(execution_id)
        if status.is_terminal:
            ended = "been cancelled" if status is ExecutionStatus.CANCELLED else status.value
            return Conflict(f"the execution has already {ended}")
        return Conflict(
            "the execution is not running in this server (a sub-workflow's execution stops "
            "with its parent's)"
        )


def _cancel_unless_recorded(recorded: asyncio.Future[None], handle: ExecutionHandle) -> None:
    if recorded.cancelled() or recorded.exception() is not None:
        handle.cancel()


def _unknown(execution_id: str) -> NotFound:
    return NotFound(f"no execution with id {execution_id!r}")
