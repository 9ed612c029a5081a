"""The reactive executor: every node starts the moment its upstream nodes have settled.

The plan's dependency graph drives a ``Readiness`` (``tav.engine.readiness``): each node
that becomes ready is either settled on the spot (skipped, pinned, reused, cancelled) or
started as its own asyncio task, so independent branches always overlap; resource pools
bound what runs at once. A node's task, once its node has settled, starts what became
ready itself, which keeps each step O(1) however wide the graph is (``asyncio.wait`` over
all running tasks would be O(width) per step).

States change in one place each (``_Run._move`` for nodes, ``_Run._move_execution`` for
the execution), checked against the tables of ``tav.core.states``.

A node that parks (``ctx.park``) is ``waiting``: it is not done for the readiness, so
nothing downstream of it becomes ready, and once every node that can run has settled the
execution ends this run ``waiting`` (``execution.waiting``) and its task ends. Nothing of
it stays in memory: the host stored it, and resumes it when the wait is decided, with the
outcome in ``Resume.settles``; the node then settles with it (it never runs again) and the
execution goes on — unless it parked with state (``ctx.park(request, state=...)``): it then
runs again, its step from the start, with that state and the outcome (``ctx.resumed``,
from ``WaitOutcome.rerun``), and may park again. A stop (a cancellation, a failure under
``stop``) cancels the nodes that wait as it cancels those that run.

Rejected alternatives: level-by-level scheduling (a slow node holds back unrelated ones)
and one long-lived worker per pool (pools are semaphores instead: simpler, and a node's
task exists only while it runs).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from tav.core import values
from tav.core.errors import FailureKind, InternalError, NodeError, NotFound, WorkflowInvalid
from tav.core.events import (
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionWaiting,
    NodeCancelled,
    NodeCompleted,
    NodeFailed,
    NodeProgress,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    NodeWaiting,
    utcnow,
)
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.states import (
    EXECUTION_TRANSITIONS,
    NODE_TRANSITIONS,
    CancelReason,
    ExecutionStatus,
    NodeStatus,
)
from tav.core.waits import WaitOutcome, WaitRequest
from tav.core.workflow import DEFAULT_INPUT_PORT, Workflow
from tav.engine.bus import InMemoryBus
from tav.engine.context import NodesView
from tav.engine.loader import FileWorkflowLoader
from tav.engine.plan import ExecutionPlan, PlannedNode, compile_plan
from tav.engine.pools import Pools
from tav.engine.ports import EventBus, ExecutionStore, SecretProvider, WorkflowLoader
from tav.engine.readiness import Readiness
from tav.engine.secrets import Redact, redact_error, redact_result, redact_value
from tav.engine.step import error_outputs, run_step
from tav.engine.template_budget import DEFAULT_LIMITS, TemplateLimits
from tav.nodes.context import Arrival, ChildWaits, Credential, Inputs, Resumed
from tav.nodes.host import WAITS, HostServices
from tav.nodes.registry import NodeRegistry

MAX_DEPTH = 16


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to start one execution (``Executor.start`` and ``execute``); every field is
    optional."""

    execution_id: str | None = None
    """Its id (default: a new one, 32 hex digits)."""
    reuse: Mapping[str, NodeResult] | None = None
    """Results of an earlier execution (a retry, a run from a node): a node whose result
    here succeeded is not run; its outputs flow on, marked ``reused``."""
    resume: Resume | None = None
    """Where an interrupted execution left off, to go on from there."""
    vars: Mapping[str, Any] | None = None
    """The global variables (``vars``), instead of the executor's."""
    parent_execution_id: str | None = None
    """The execution whose node started this one, for a sub-workflow."""
    depth: int = 0
    """How deep the sub-workflow is nested (0: a top-level execution)."""
    started_at: datetime | None = None
    """When the execution counts as started (default: now); a host that recorded it
    before starting it passes the time it recorded."""
    skip: frozenset[str] = frozenset()
    """Nodes settled as skipped without running: the trigger nodes other than the one
    that started the execution, so that only its branch runs."""
    inline: bool = False
    """Run as part of a node of the parent execution (``core.map``'s items): nothing is
    stored and no event is published; only the result comes back to the caller."""


@dataclass(frozen=True)
class Resume:
    """Where an interrupted or parked execution left off: its settled nodes are not run
    again, and its events go on from ``last_seq``. Its nodes stored ``waiting`` wait on,
    but those ``settles`` names: they settle with the outcome of their wait."""

    results: Mapping[str, NodeResult]
    last_seq: int
    started_at: datetime
    settles: Mapping[str, WaitOutcome] = field(default_factory=lambda: MappingProxyType({}))


_DEFAULT_OPTIONS = RunOptions()


class _ExecutionInfo(dict[str, Any]):
    """``execution`` in templates: its data, and ``execution.resume_url('<node id>')`` (a
    method, so that ``{{ execution }}`` stays data)."""

    __slots__ = ("resume_url",)

    def __init__(self, resume_url: Callable[[str], str], **data: Any) -> None:
        super().__init__(data)
        self.resume_url = resume_url


class Executor:
    """Runs plans. One per host; its pools are shared by every execution it runs."""

    def __init__(
        self,
        registry: NodeRegistry,
        *,
        bus: EventBus | None = None,
        store: ExecutionStore | None = None,
        pools: Pools | None = None,
        loader: WorkflowLoader | None = None,
        services: HostServices | None = None,
        vars: Mapping[str, Any] | None = None,
        secrets: SecretProvider | None = None,
        template_limits: TemplateLimits | None = None,
    ) -> None:
        self.registry = registry
        self.bus: EventBus = bus or InMemoryBus()
        self.store = store
        self.pools = pools or Pools()
        self.loader: WorkflowLoader = loader or FileWorkflowLoader()
        self.services = services if services is not None else HostServices()
        """What nodes may use (``ctx.service``); compiling checks each node's ``requires``
        against it, and sub-executions run with the same."""
        self.vars = dict(vars or {})
        self.secrets = secrets
        self.template_limits = template_limits or DEFAULT_LIMITS
        self._plans: dict[str, tuple[Workflow, ExecutionPlan]] = {}

    def compile(self, workflow: Workflow, *, source: str | None = None) -> ExecutionPlan:
        return compile_plan(
            workflow,
            self.registry,
            source=source,
            limits=self.template_limits,
            services=self.services,
            pools=self.pools.limits,
        )

    def start(
        self, plan: ExecutionPlan, trigger: Any = None, options: RunOptions | None = None
    ) -> ExecutionHandle:
        """Start an execution of ``plan`` in the background and return its handle at once;
        ``trigger`` is its trigger payload."""
        return ExecutionHandle(_Run(self, plan, trigger, options or _DEFAULT_OPTIONS))

    async def execute(
        self, plan: ExecutionPlan, trigger: Any = None, options: RunOptions | None = None
    ) -> ExecutionResult:
        """Run an execution to its end in the current task (as ``start`` does)."""
        return await _Run(self, plan, trigger, options or _DEFAULT_OPTIONS).run()

    async def load_plan(self, ref: str, *, relative_to: str | None) -> ExecutionPlan:
        """The compiled plan of a workflow reference, compiled once per document."""
        workflow, source = await self.loader.load(ref, relative_to=relative_to)
        cached = self._plans.get(source)
        if cached is not None and cached[0] == workflow:
            return cached[1]
        # On a worker thread: compiling takes about half a millisecond per template.
        plan = await asyncio.to_thread(self.compile, workflow, source=source)
        self._plans[source] = (workflow, plan)
        return plan


class ExecutionHandle:
    """A running execution: its id, a way to cancel it, and its result when done."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.execution_id = run.execution_id
        self._task = asyncio.create_task(run.run(), name=f"execution {run.execution_id}")

    def cancel(self) -> None:
        """Stop the execution: running nodes are cancelled at once, pending ones never run."""
        self._run.cancel()

    def done(self) -> bool:
        return self._task.done()

    @property
    def waiting(self) -> tuple[str, ...]:
        """The nodes it waits on, once its run has ended ``waiting`` (else none)."""
        run = self._run
        return tuple(run.parked) if run.status is ExecutionStatus.WAITING else ()

    def add_done_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the execution has ended, however it ended."""
        self._task.add_done_callback(lambda _: callback())

    async def wait(self) -> ExecutionResult:
        return await asyncio.shield(self._task)


async def _despite_cancellation(work: Coroutine[Any, Any, None]) -> None:
    """Await ``work`` to its end even if the awaiting task is cancelled again meanwhile.

    Winding down a cancelled execution must not be cut short by a second cancellation
    (a timeout and a shutdown, say): its watchers wait for the final event.
    """
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise


_Ready = tuple[PlannedNode, Inputs]
_Unrun = tuple[NodeResult, str]
"""A node that settles without running: its result, and why it was skipped ("" if not)."""
_ENDED: dict[
    ExecutionStatus,
    type[ExecutionCompleted | ExecutionFailed | ExecutionCancelled | ExecutionWaiting],
] = {
    ExecutionStatus.SUCCEEDED: ExecutionCompleted,
    ExecutionStatus.FAILED: ExecutionFailed,
    ExecutionStatus.CANCELLED: ExecutionCancelled,
    ExecutionStatus.WAITING: ExecutionWaiting,
}


class _Run:
    """The mutable state of one execution; the plan itself never changes.

    A node's state changes in ``_move`` only, the execution's in ``_move_execution``
    only: each refuses a move that ``tav.core.states`` does not allow, as a bug of the
    engine (``InternalError``), rather than record a state that cannot be. Nodes an
    execution resumes with start in the (terminal) state they were stored in.
    """

    def __init__(
        self, executor: Executor, plan: ExecutionPlan, trigger: Any, options: RunOptions
    ) -> None:
        self.executor = executor
        self.plan = plan
        self.trigger = trigger
        self.resume = resume = options.resume
        self.execution_id = options.execution_id or uuid.uuid4().hex
        self.reuse = options.reuse or {}
        self.skip = options.skip
        self.parent_execution_id = options.parent_execution_id
        self.depth = options.depth
        self.pools = executor.pools
        self.services: HostServices = executor.services
        self.store = None if options.inline else executor.store
        self.reporting = not options.inline
        """Whether events are made and published: an inline run (``core.map``'s items)
        reports nothing, so it does not make them either (eight for an item of three
        nodes)."""
        self.publish: Callable[[Event], None] = executor.bus.publish
        self.template_limits = executor.template_limits
        self.checked = values.Checked()
        self.global_vars = executor.vars if options.vars is None else options.vars
        self.vars: Mapping[str, Any] = {**self.global_vars, **plan.vars}
        self.redact: Redact | None = None
        """Set once a node reveals a credential: applied to everything reported after."""
        self.seq = resume.last_seq if resume else 0
        self.started_at = resume.started_at if resume else options.started_at or utcnow()
        self.execution_info = _ExecutionInfo(
            self.resume_url,
            id=self.execution_id,
            started_at=self.started_at.isoformat(),
            workflow=plan.name,
        )
        # -- the state machine ----------------------------------------------------------
        self.status = ExecutionStatus.QUEUED
        self.states = _initial_states(plan, resume)
        self.results: dict[str, NodeResult] = {}
        """The settled nodes' results, in the order they settled: what inputs, templates
        (``nodes``) and the execution's result read."""
        self.nodes_view = NodesView(self.results)
        self.attempts: dict[str, int] = {}
        """The attempt each started node is at: what a node cancelled mid-run reports."""
        self.tasks: dict[asyncio.Task[None], str | None] = {}
        """Every node task (asyncio keeps only weak references), with the node it runs now:
        None between two nodes, when a stop must not cancel it."""
        self.parked: dict[str, WaitRequest | None] = {}
        """The nodes that wait, with what for (``None``: restored waiting, known to the
        host); not done for the readiness."""
        self.requests: dict[str, WaitRequest] = {}
        """What each node parking now waits for, until it settles ``waiting``."""
        self.reruns: dict[str, Resumed] = {}
        """The nodes run again after their wait, with what they parked with."""
        self.failure: tuple[str, ErrorInfo] | None = None
        """The first node that failed under ``on_error: stop``, with its error."""
        self.cancelled = False
        self.sorter = Readiness(plan.ready_graph)
        self.all_settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- state changes ------------------------------------------------------------------

    def _move(self, node_id: str, status: NodeStatus) -> None:
        """The one place a node's state changes."""
        current = self.states[node_id]
        if status not in NODE_TRANSITIONS[current]:
            raise InternalError(
                f"execution {self.execution_id}: node '{node_id}' cannot move "
                f"from {current.value} to {status.value}"
            )
        self.states[node_id] = status

    def _move_execution(self, status: ExecutionStatus) -> None:
        """The one place the execution's state changes."""
        if status not in EXECUTION_TRANSITIONS[self.status]:
            raise InternalError(
                f"execution {self.execution_id} cannot move "
                f"from {self.status.value} to {status.value}"
            )
        self.status = status

    # -- scheduling ---------------------------------------------------------------------

    async def run(self) -> ExecutionResult:
        clock = time.perf_counter()
        self._move_execution(ExecutionStatus.RUNNING)
        if self.resume is None and self.reporting:
            self._emit(
                ExecutionStarted(
                    seq=self._next_seq(),
                    execution_id=self.execution_id,
                    workflow=self.plan.name,
                    parent_execution_id=self.parent_execution_id,
                )
            )
        if self.store:
            await self.store.execution_started(self._result())
        try:
            # Shielded: cut short, it would drop the ready nodes it had yet to settle. With no
            # store it awaits nothing, so nothing can cut it short: it needs no task of its
            # own (core.map's inline items start a node the sooner).
            if self.store is None:
                await self._advance()
            else:
                await asyncio.shield(self._advance())
            await asyncio.shield(self.all_settled)
        except asyncio.CancelledError:
            self.cancel()
            await _despite_cancellation(self._wind_down(clock))
            raise
        return await self._finish(clock)

    async def _wind_down(self, clock: float) -> None:
        """Settle the cancelled nodes and end the execution with its final event."""
        await self._advance()
        await asyncio.shield(self.all_settled)
        await self._finish(clock)

    async def _advance(self, *, keep_one: bool = False) -> _Ready | None:
        """Start every node that is ready; settle on the spot those that need no task.

        Called at the start and by each node task once its node has settled, so scheduling
        costs no hop through a central loop. With ``keep_one``, the calling task keeps one
        ready node to run itself next instead of spawning a task for it: a chain then runs
        in one task, which halves its per-node cost without changing what runs when.
        """
        sorter, states, pending = self.sorter, self.states, NodeStatus.PENDING
        kept: _Ready | None = None
        while True:
            ready = sorter.get_ready()
            if not ready:
                if not (self.stopped and self.parked):
                    break
                await self._release_parked()  # their successors may become ready
                continue
            for node_id in ready:
                node = self.plan.nodes[node_id]
                if states[node_id] is not pending:  # resumed: settled before, or waiting
                    self._restore(node)
                    if states[node_id] is NodeStatus.WAITING:
                        await self._resume_waiting(node)
                    else:
                        sorter.done(node_id)
                    continue
                outcome = self._prepare(node)
                if isinstance(outcome, tuple):
                    await self._settle(*outcome)
                    sorter.done(node_id)
                elif keep_one and kept is None:
                    kept = (node, outcome)
                else:
                    self._spawn(node, outcome)
        if kept is None and not sorter.is_active(len(self.parked)) and not self.all_settled.done():
            self.all_settled.set_result(None)
        return kept

    async def _resume_waiting(self, node: PlannedNode) -> None:
        """A node stored ``waiting``: settle it with its wait's outcome if it was decided,
        else it waits on (or, the execution stopping, is cancelled)."""
        outcome = self.resume.settles.get(node.id) if self.resume is not None else None
        if outcome is None or self.stopped:
            self.parked[node.id] = None
            return
        if outcome.rerun is not None:  # it parked with state: it runs again
            rerun = outcome.rerun
            self.reruns[node.id] = Resumed(rerun.state, outcome, rerun.seq)
            self._spawn(node, self._inputs(node)[0])
            return
        await self._settle(self._decided(node, outcome))
        self.sorter.done(node.id)

    def _decided(self, node: PlannedNode, outcome: WaitOutcome) -> NodeResult:
        """The result of a waiting node whose wait was decided: its outcome's value on its
        port (or the node's input), or its failure (down ``error`` under ``branch``)."""
        waiting = self.results[node.id]
        inputs, _ = self._inputs(node)
        now = utcnow()
        started = waiting.started_at
        duration_ms = (now - started).total_seconds() * 1000 if started is not None else None
        if outcome.error is not None:
            outputs = {}
            if node.on_error == "branch":
                outputs = error_outputs(node, outcome.error, inputs)
            status, error = NodeStatus.FAILED, outcome.error
        else:
            value = inputs.get(DEFAULT_INPUT_PORT) if outcome.pass_input else outcome.value
            status, error, outputs = NodeStatus.SUCCEEDED, None, {outcome.port or "output": value}
            if outcome.outputs is not None:
                outputs = dict(outcome.outputs)
        return NodeResult(
            node_id=node.id,
            status=status,
            attempts=waiting.attempts,
            outputs=outputs,
            error=error,
            started_at=started,
            finished_at=now,
            duration_ms=duration_ms,
        )

    async def _release_parked(self) -> None:
        """Cancel the nodes that wait: the execution stopped."""
        for node_id in list(self.parked):
            del self.parked[node_id]
            attempts = self.results[node_id].attempts
            await self._settle(self._cancelled(node_id, attempts=attempts, finished_at=utcnow()))
            self.sorter.done(node_id)

    def _prepare(self, node: PlannedNode) -> Inputs | _Unrun:
        """The inputs to run ``node`` with, or its result if it settles without running."""
        if self.stopped:
            return self._cancelled(node.id), ""
        reused = self.reuse.get(node.id)
        if reused is not None and reused.status is NodeStatus.SUCCEEDED:
            return reused.model_copy(update={"reused": True}), ""
        if node.id in self.skip:
            return _unrun(node.id, NodeStatus.SKIPPED), "another trigger started the execution"
        inputs, missing = self._inputs(node)
        if missing is not None:
            return _unrun(node.id, NodeStatus.SKIPPED), missing
        if node.pin is not None:
            return _pinned(node), ""
        return inputs

    def _spawn(self, node: PlannedNode, inputs: Inputs) -> None:
        # Running no node before its first step: a task cancelled then would end without
        # settling its node, and the execution would wait for it forever.
        task = asyncio.create_task(self._run_nodes(node, inputs))
        self.tasks[task] = None
        task.add_done_callback(self.tasks.pop)

    async def _run_nodes(self, node: PlannedNode, inputs: Inputs) -> None:
        """Run ``node``, then each node this task keeps from ``_advance``."""
        task = asyncio.current_task()
        assert task is not None
        next_node: _Ready | None = (node, inputs)
        try:
            while next_node is not None:
                node, inputs = next_node
                result = await self._run_one(task, node, inputs)
                await self._settle(result)
                if result.status is not NodeStatus.WAITING:
                    self.sorter.done(node.id)
                next_node = await self._advance(keep_one=True)
        except BaseException as exc:  # an engine bug: fail the execution, do not hang it
            if not self.all_settled.done():
                self.all_settled.set_exception(exc)
            raise

    async def _run_one(
        self, task: asyncio.Task[None], node: PlannedNode, inputs: Inputs
    ) -> NodeResult:
        if self.stopped:  # since the node was found ready
            return self._cancelled(node.id)
        self.tasks[task] = node.id
        try:
            return await run_step(self, node, inputs)
        except asyncio.CancelledError:
            task.uncancel()
            attempts = self.attempts.get(node.id, 0)
            return self._cancelled(node.id, attempts=attempts, finished_at=utcnow())
        finally:
            self.tasks[task] = None  # until its next node, nothing cancels this task
            self.attempts.pop(node.id, None)

    def _inputs(self, node: PlannedNode) -> tuple[Inputs, str | None]:
        arrivals: dict[str, list[Arrival]] = {}
        for port, sources in node.incoming.items():
            arrived = [
                Arrival(src.node, src.port, outputs[src.port])
                for src in sources
                if src.port in (outputs := self.results[src.node].outputs)
            ]
            if arrived:
                arrivals[port] = arrived
        inputs = Inputs(arrivals, node.many_ports)
        if not node.incoming:
            return inputs, None
        missing = [p for p in node.required_ports if p in node.incoming and p not in arrivals]
        if missing:
            return inputs, f"no value arrived on input '{missing[0]}'"
        if not arrivals:
            return inputs, "no value arrived on any input"
        return inputs, None

    # -- settling -----------------------------------------------------------------------

    async def _settle(self, result: NodeResult, skip_reason: str = "") -> None:
        """Record a settled node and report it (``skip_reason``: why it was skipped)."""
        node = self.plan.nodes[result.node_id]
        self._move(node.id, result.status)
        if self.redact is not None:
            result = redact_result(result, self.redact)
        self.results[node.id] = result
        if result.status is NodeStatus.WAITING:
            self.parked[node.id] = self.requests.pop(node.id, None)
        self._emit_settled(result, skip_reason)
        if result.status is NodeStatus.FAILED and node.on_error == "stop" and self.failure is None:
            assert result.error is not None
            self.failure = (node.id, result.error)
            self._cancel_running()
        if self.store:
            await self.store.node_settled(self.execution_id, result)

    def _restore(self, node: PlannedNode) -> None:
        """Take the result of a node that settled before the execution was interrupted (it
        was reported then)."""
        assert self.resume is not None
        result = self.resume.results[node.id]
        self.results[node.id] = result
        if result.status is NodeStatus.FAILED and node.on_error == "stop":
            assert result.error is not None
            self.failure = (node.id, result.error)

    def _emit_settled(self, result: NodeResult, skip_reason: str) -> None:
        if not self.reporting:
            return
        seq, node_id = self._next_seq(), result.node_id
        if result.status is NodeStatus.SUCCEEDED:
            self._emit(
                NodeCompleted(
                    seq=seq,
                    execution_id=self.execution_id,
                    at=result.finished_at or utcnow(),
                    node_id=node_id,
                    attempts=result.attempts,
                    ports=list(result.outputs),
                    duration_ms=result.duration_ms,
                    pinned=result.pinned,
                )
            )
        elif result.status is NodeStatus.FAILED:
            assert result.error is not None
            self._emit(
                NodeFailed(
                    seq=seq,
                    execution_id=self.execution_id,
                    node_id=node_id,
                    attempts=result.attempts,
                    error=result.error,
                    duration_ms=result.duration_ms,
                )
            )
        elif result.status is NodeStatus.SKIPPED:
            self._emit(
                NodeSkipped(
                    seq=seq, execution_id=self.execution_id, node_id=node_id, reason=skip_reason
                )
            )
        elif result.status is NodeStatus.WAITING:
            request = self.parked.get(node_id)
            self._emit(
                NodeWaiting(
                    seq=seq,
                    execution_id=self.execution_id,
                    node_id=node_id,
                    mode=request.mode.value if request else "",
                    due_at=request.due_at if request else None,
                )
            )
        else:
            reason = result.reason or CancelReason.CANCELLED
            self._emit(
                NodeCancelled(
                    seq=seq, execution_id=self.execution_id, node_id=node_id, reason=reason
                )
            )

    @property
    def stopped(self) -> bool:
        """Cancelled, or failed under ``on_error: stop``: no further node may start."""
        return self.cancelled or self.failure is not None

    def _cancelled(
        self, node_id: str, *, attempts: int = 0, finished_at: datetime | None = None
    ) -> NodeResult:
        """The result of a node that the stop reached, saying why (``CancelReason``)."""
        reason = self._cancel_reason(node_id)
        return _unrun(
            node_id, NodeStatus.CANCELLED, attempts=attempts, finished_at=finished_at, reason=reason
        )

    def _cancel_reason(self, node_id: str) -> CancelReason:
        """A failure under ``stop`` wins over a cancellation, as for the execution's status.
        A failure is upstream of a node when one of the node's predecessors failed, or was
        cancelled for a failure upstream of it (all have settled: the node was ready)."""
        if self.failure is None:
            return CancelReason.CANCELLED
        for upstream in self.plan.predecessors[node_id]:
            result = self.results[upstream]
            if result.status is NodeStatus.FAILED or result.reason is CancelReason.UPSTREAM_FAILED:
                return CancelReason.UPSTREAM_FAILED
        return CancelReason.SIBLING_FAILED

    def cancel(self) -> None:
        self.cancelled = True
        self._cancel_running()

    def _cancel_running(self) -> None:
        for task, node_id in self.tasks.items():
            if node_id is not None:
                task.cancel()

    async def _finish(self, clock: float) -> ExecutionResult:
        if self.stopped and self.parked:  # stopped after the others had settled
            await self._advance()
        status, error = self._outcome()
        self._move_execution(status)
        duration_ms = (time.perf_counter() - clock) * 1000
        result = self._result(error, duration_ms)
        if self.reporting:
            self._emit(
                _ENDED[status](
                    seq=self._next_seq(),
                    execution_id=self.execution_id,
                    status=status,
                    duration_ms=duration_ms,
                    error=error,
                )
            )
        if self.store:
            await self.store.execution_finished(result)
        return result

    def _outcome(self) -> tuple[ExecutionStatus, ErrorInfo | None]:
        """How the execution ends: a failure under ``stop`` wins over a cancellation."""
        if self.failure is not None:
            node_id, error = self.failure
            prefix = f"node '{node_id}'"
            message = (
                error.message if error.message.startswith(prefix) else f"{prefix}: {error.message}"
            )
            return ExecutionStatus.FAILED, ErrorInfo(
                type=error.type,
                message=message.replace(prefix, f"{prefix} failed", 1),
                retryable=error.retryable,
            )
        if self.cancelled:
            cancelled = ErrorInfo(type=FailureKind.CANCELLED, message="the execution was cancelled")
            return ExecutionStatus.CANCELLED, cancelled
        if self.parked:
            return ExecutionStatus.WAITING, None
        return ExecutionStatus.SUCCEEDED, None

    def _result(
        self, error: ErrorInfo | None = None, duration_ms: float | None = None
    ) -> ExecutionResult:
        finished = self.status.is_terminal
        return ExecutionResult(
            execution_id=self.execution_id,
            workflow=self.plan.name,
            status=self.status,
            error=error,
            output=self._output() if finished else None,
            started_at=self.started_at,
            finished_at=utcnow() if finished else None,
            duration_ms=duration_ms,
            nodes={
                node_id: self.results[node_id]
                for node_id in self.plan.nodes
                if node_id in self.results
            },
            parent_execution_id=self.parent_execution_id,
        )

    def _output(self) -> Any:
        if self.plan.output_node is None:
            return None
        result = self.results.get(self.plan.output_node)
        return result.outputs.get("output") if result else None

    # -- what steps and node contexts use (``tav.engine.step.StepHost``) ----------------

    def _next_seq(self) -> int:
        """The next event's sequence number: take it as the event is made, and publish that
        event at once."""
        self.seq += 1
        return self.seq

    def _emit(self, event: Event) -> None:
        if self.reporting:
            self.publish(event)

    def started(self, node_id: str, attempt: int, at: datetime | None = None) -> None:
        self._move(node_id, NodeStatus.RUNNING)
        self.attempts[node_id] = attempt
        if self.reporting:
            self._emit(
                NodeStarted(
                    seq=self._next_seq(),
                    execution_id=self.execution_id,
                    node_id=node_id,
                    attempt=attempt,
                    at=at or utcnow(),
                )
            )

    def retrying(self, node_id: str, attempt: int, delay_s: float, error: ErrorInfo) -> None:
        self._move(node_id, NodeStatus.RETRYING)
        if self.redact is not None:
            error = redact_error(error, self.redact) or error
        self._emit(
            NodeRetrying(
                seq=self._next_seq(),
                execution_id=self.execution_id,
                node_id=node_id,
                attempt=attempt,
                delay_s=delay_s,
                error=error,
            )
        )

    def parking(self, node_id: str, request: WaitRequest) -> None:
        if not self.reporting:
            raise NodeError(
                "a wait inside a run of core.map that is not an execution of its own: set "
                "`separate_executions` on the core.map node (it is set by itself only when "
                "the mapped workflow has a node that waits, not one of its sub-workflows)",
                type="wait_unsupported",
            )
        self.requests[node_id] = request

    def resumed(self, node_id: str) -> Resumed | None:
        return self.reruns.get(node_id)

    def resume_url(self, node_id: str) -> str:
        """``execution.resume_url('<node id>')`` in templates: the link that resumes the
        wait of that node, known before it waits (to send it ahead, by mail or chat)."""
        if not isinstance(node_id, str) or node_id not in self.plan.nodes:
            raise ValueError(f"resume_url({node_id!r}): no such node in this workflow")
        node = self.plan.nodes[node_id]
        if WAITS not in node.node_type.requires:
            kind = node.node_type.spec.type
            raise ValueError(f"resume_url({node_id!r}): a {kind} node does not wait")
        waits = self.services.waits
        if waits is None:
            raise ValueError("resume_url: this host keeps no waits (run it under `tav serve`)")
        return waits.url(self.execution_id, node_id)

    def progress(self, node_id: str, data: dict[str, Any]) -> None:
        if self.redact is not None:
            data = redact_value(data, self.redact)
        self._emit(
            NodeProgress(
                seq=self._next_seq(), execution_id=self.execution_id, node_id=node_id, data=data
            )
        )

    async def reveal(self, credential_id: str) -> Credential:
        secrets = self.executor.secrets
        if secrets is None:
            raise NodeError(
                "this host keeps no credentials (run it under `tav serve` or with a data dir)",
                type="service_unavailable",
            )
        try:
            credential = await secrets.reveal(credential_id)
        except NotFound as exc:
            raise NodeError(str(exc), type="credential_not_found") from None
        self.redact = secrets.redact
        return credential

    def template_context(self, node_id: str, input: Any) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "input": input,
            "nodes": self.nodes_view,
            "vars": self.vars,
            "execution": self.execution_info,
        }

    async def run_workflow(self, ref: str, input: Any) -> Any:
        runner = await self.workflow(ref, separate=True)
        return await runner.run(input)

    async def workflow(self, ref: str, *, separate: bool) -> SubWorkflow:
        if self.depth + 1 >= MAX_DEPTH:
            raise NodeError(
                f"sub-workflows nested deeper than {MAX_DEPTH} levels; "
                "does a workflow call itself?",
                type="subworkflow_depth",
            )
        try:
            plan = await self.executor.load_plan(ref, relative_to=self.plan.source)
        except WorkflowInvalid as exc:
            raise NodeError(str(exc), type="subworkflow_invalid") from None
        except NotFound as exc:
            raise NodeError(str(exc), type="subworkflow_not_found") from None
        options = RunOptions(
            parent_execution_id=self.execution_id,
            depth=self.depth + 1,
            vars=self.global_vars,
            # A run that may wait is an execution of its own: only a stored one can park.
            inline=not separate and not plan.waits,
        )
        return SubWorkflow(self.executor, plan, options)


class SubWorkflow:
    """A sub-workflow's plan with the options its runs start with (``ctx.workflow``)."""

    def __init__(self, executor: Executor, plan: ExecutionPlan, options: RunOptions) -> None:
        self.executor = executor
        self.plan = plan
        self.options = options

    @property
    def name(self) -> str:
        return self.plan.name

    async def run(self, input: Any) -> Any:
        result = await self.executor.execute(self.plan, input, self.options)
        if result.status is ExecutionStatus.WAITING:
            waits = self.executor.services.waits
            if waits is not None:  # (it could not have parked without)
                document = self.plan.workflow.to_document()
                source = self.plan.source
                await waits.detach(result.execution_id, document, input, source)
            raise ChildWaits(result.execution_id, self.plan.name)
        if result.status is not ExecutionStatus.SUCCEEDED:
            error = result.error or ErrorInfo(type="subworkflow_failed", message=result.status)
            raise NodeError(
                f"sub-workflow '{self.plan.name}' {result.status.value}: {error.message}",
                type="subworkflow_failed",
                retryable=error.retryable,
            )
        return result.output


def _initial_states(plan: ExecutionPlan, resume: Resume | None) -> dict[str, NodeStatus]:
    """Every node pending, but those the execution resumes with: settled (or waiting), as
    stored."""
    states = dict.fromkeys(plan.nodes, NodeStatus.PENDING)
    for node_id, result in resume.results.items() if resume else ():
        if node_id not in states:
            continue
        if not result.status.is_terminal and result.status is not NodeStatus.WAITING:
            raise InternalError(
                f"node '{node_id}' cannot resume {result.status.value}: only settled nodes do"
            )
        states[node_id] = result.status
    return states


def _unrun(
    node_id: str,
    status: NodeStatus,
    *,
    attempts: int = 0,
    finished_at: datetime | None = None,
    reason: CancelReason | None = None,
) -> NodeResult:
    """The result of a node that did not run to its end: skipped, or cancelled (mid-run,
    with the attempt it was at and when it stopped; ``reason``: why)."""
    return NodeResult(
        node_id=node_id, status=status, attempts=attempts, finished_at=finished_at, reason=reason
    )


def _pinned(node: PlannedNode) -> NodeResult:
    """A pinned node's result: its pinned outputs, at once."""
    assert node.pin is not None
    now = utcnow()
    return NodeResult(
        node_id=node.id,
        status=NodeStatus.SUCCEEDED,
        outputs=dict(node.pin),
        pinned=True,
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
    )
