"""Durable waits: opening them, their links, deciding them, firing their timers.

An execution that waits holds nothing: no task, no memory, no worker, no lease. What it
waits for is a row (``tav.storage.waits``); the execution's row says ``waiting``. A
decision — people through the REST API or the link's form, a call of a webhook wait's
link, a timer or a timeout — is recorded atomically, puts the execution back to
``queued``, and the execution resumes from its settled nodes as an interrupted one does
(``Executions.resume``, which settles the waiting node with the outcome): here in a single
process, on whichever worker claims it in queue mode. A decider that dies before it
resumed it leaves it ``queued``, which the next start (or the sweeper) resumes.

Links. A wait's token is derived, not drawn: HMAC-SHA256 of the secret key (the one
credentials are encrypted with) over the execution and node ids. So the link is known
before the wait opens (``{{ execution.resume_url('approve') }}`` in the email sent just
before it), and nothing secret is stored: the database keeps the token's SHA-256, to find
the wait a link names. A link works while its wait is open: once decided, timed out or
cancelled (or its execution ended), it answers 410. Rejected: a random token stored in
the clear (a database leak would open every pending approval), and a random token made
when the execution starts (it would have to be stored to survive a restart).

Timers. One loop per ``tav serve`` (``run_timers``) reads the earliest ``due_at`` of the
open waits from its index, sleeps until then (at most ``RECHECK_S``, as waits opened by
other processes do not wake it), and fires what is due, each in the transaction that
decides it: a timer due while every server was down fires once the first one is back,
and of two servers that see it due, one fires it. There is no task per wait: a server
with 10,000 waiting executions starts and idles as one with none.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Collection, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tav.core import children, forms
from tav.core.errors import (
    Conflict,
    FailureKind,
    Forbidden,
    Gone,
    InputInvalid,
    NotFound,
    NotStored,
    TavError,
)
from tav.core.events import utcnow
from tav.core.results import ErrorInfo
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.waits import (
    Decider,
    Decision,
    Rerun,
    WaitMode,
    WaitOutcome,
    WaitRequest,
    approval_outcome,
    due_outcome,
    may_answer,
    may_decide,
    timer_outcome,
    webhook_outcome,
)
from tav.core.workflow import parse_workflow
from tav.storage.waits import CANCELLED, DECIDED, OPEN, Decided, Verdict, WaitRecord, WaitRepository

if TYPE_CHECKING:
    from tav.app.executions import Executions

logger = logging.getLogger("tav.waits")
RECHECK_S = 2.0
"""Longest the timer loop sleeps: how late a timer opened by another process may fire."""
FIRE_BATCH = 100
TOKEN_CONTEXT = b"tav wait link v1"
STORED_SOURCE = "workflow:"
"""How a stored workflow's plan names its source (``tav.app.loader``)."""


class FormInvalid(InputInvalid):
    """An answer that does not fit the approval's form; ``problems`` names each field."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        listed = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        super().__init__(f"the form's answer is not valid: {listed}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Answer:
    """What a decider sends: an approval's decision, or (webhook) the call's request."""

    decision: str | None = None
    comment: str = ""
    data: Any = None
    call: dict[str, Any] | None = None
    """Webhook: ``{method, headers, query, body}``."""


@dataclass
class Links:
    """Resume links: the token of each wait, and the URL it is served at."""

    key: Callable[[], bytes]
    base_url: str

    def token(self, execution_id: str, node_id: str, seq: int = 0) -> str:
        """``seq``: which wait of the node (a node run again after its wait may wait
        again, under a link of its own); the first's is known before it waits."""
        subkey = hmac.new(self.key(), TOKEN_CONTEXT, hashlib.sha256).digest()
        message = f"{execution_id}\0{node_id}".encode()
        if seq:
            message += f"\0{seq}".encode()
        digest = hmac.new(subkey, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, execution_id: str, node_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/resume/{self.token(execution_id, node_id)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Waits:
    """The use cases of waits; also the nodes' ``tav.nodes.host.Waits``."""

    repository: WaitRepository
    links: Links
    executions: Executions | None = None
    """Set by the composition root: how a decided execution resumes."""
    _wake: asyncio.Event | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    # -- the nodes' side ------------------------------------------------------------------

    async def open(self, execution_id: str, node_id: str, request: WaitRequest) -> None:
        # A wait for child executions has no link: nobody decides it.
        digest = None
        if request.mode is not WaitMode.EXECUTION:
            digest = token_hash(self.links.token(execution_id, node_id, request.seq))
        if self.executions is not None:  # its row first (it is written in batches)
            await self.executions.written(execution_id)
        await self.repository.open(execution_id, node_id, request, digest)
        if request.due_at is not None and self._wake is not None:
            self._wake.set()
        if request.children is not None and self.executions is not None:
            self._spawn(self._children_parked(execution_id, node_id, request.children))

    def url(self, execution_id: str, node_id: str) -> str:
        return self.links.url(execution_id, node_id)

    async def detach(
        self, execution_id: str, document: dict[str, Any], input: Any, source: str | None = None
    ) -> None:
        assert self.executions is not None
        await self.executions.written(execution_id)  # its row first
        workflow = None  # a stored workflow's, at the version it ran (listed, opened with it)
        if source is not None and source.startswith(STORED_SOURCE):
            stored = await self.executions.workflows.get(source.removeprefix(STORED_SOURCE))
            ran = parse_workflow(stored.document, structure=False) if stored else None
            if stored is not None and ran is not None and ran.to_document() == document:
                workflow = (stored.id, stored.version)
        await self.executions.executions.detach(execution_id, document, input, workflow)

    # -- reading --------------------------------------------------------------------------

    async def of(self, execution_ids: Collection[str]) -> dict[str, list[WaitRecord]]:
        return await self.repository.of(execution_ids)

    async def decidable_by(self, decider: Decider) -> set[str]:
        """The waiting executions with an open wait ``decider`` may decide now (as
        ``may_answer`` says) and has not approved already."""
        member = decider.member
        found = set()
        for execution_id, request, decisions in await self.repository.open_of_waiting():
            if execution_id in found or not may_answer(request, decider):
                continue
            if member is not None and any(d.by and d.by.id == member.id for d in decisions):
                continue  # (approved it; another person's approval is needed)
            found.add(execution_id)
        return found

    async def by_token(self, token: str) -> WaitRecord:
        """The wait a link names; ``NotFound`` for a token no wait has, ``Gone`` for one of
        a wait that its node's next wait replaced."""
        digest = token_hash(token) if token else None
        record = await self.repository.by_token(digest) if digest else None
        if record is None:
            if digest and await self.repository.spent(digest):
                raise Gone("this link's wait is over (its node waits again, under another link)")
            raise NotFound("no wait has this link (it may not have been reached yet)")
        return record

    # -- deciding -------------------------------------------------------------------------

    async def decide(
        self, execution_id: str, node_id: str, decider: Decider, answer: Answer
    ) -> Decided:
        """Record ``decider``'s answer (atomically: see ``tav.storage.waits``) and resume
        the execution if that decided the wait. Raises ``Gone`` for a link whose wait is
        over, ``Conflict`` when it is asked by id (the REST API) or this person has
        decided already, ``Forbidden``, ``FormInvalid``."""
        now = utcnow()

        def judge(record: WaitRecord) -> Verdict:
            try:
                check_open(record)
            except Gone as exc:
                if decider.via_link:
                    raise
                raise Conflict(str(exc).replace("; its link works no more", "")) from None
            return _verdict(record, decider, answer, now)

        decided = await self.repository.decide(execution_id, node_id, judge)
        if decided.resumes:
            await self._resume(execution_id)
        return decided

    async def decide_by_link(self, token: str, decider: Decider, answer: Answer) -> Decided:
        record = await self.by_token(token)
        return await self.decide(record.execution_id, record.node_id, decider, answer)

    # -- resuming -------------------------------------------------------------------------

    async def settles(
        self, execution_id: str, waiting: Collection[str]
    ) -> tuple[dict[str, WaitOutcome], bool]:
        """For an execution about to resume whose ``waiting`` nodes wait: the outcome of
        each wait decided, and whether it was cancelled while it waited."""
        outcomes: dict[str, WaitOutcome] = {}
        reruns: list[WaitRecord] = []
        cancelled = False
        for record in (await self.repository.of([execution_id])).get(execution_id, []):
            if record.node_id not in waiting:
                continue
            if record.status == DECIDED and record.outcome is not None:
                outcomes[record.node_id] = record.outcome
                if record.request.rerun:
                    reruns.append(record)
            cancelled = cancelled or record.status == CANCELLED
        if reruns:  # they run again with the state they parked with (``ctx.resumed``)
            states = await self.repository.states(execution_id, [r.node_id for r in reruns])
            for record in reruns:
                rerun = Rerun(seq=record.request.seq, state=states.get(record.node_id) or {})
                outcomes[record.node_id] = outcomes[record.node_id].model_copy(
                    update={"rerun": rerun}
                )
        return outcomes, cancelled

    def parked(self, execution_id: str, waiting: Collection[str]) -> None:
        """The execution just parked on ``waiting``: a wait decided while it still ran
        (nobody could resume it then) resumes it now."""
        self._spawn(self._after_park(execution_id, set(waiting)))

    async def _after_park(self, execution_id: str, waiting: set[str] | None = None) -> None:
        """``waiting``: its nodes that wait (``None``: as stored)."""
        assert self.executions is not None
        with suppress(NotStored):  # (then it is recorded failed: nothing to resume)
            await self.executions.written(execution_id)
        if waiting is None:
            record = await self.executions.get(execution_id)
            if record.status is not ExecutionStatus.WAITING:
                return
            waiting = {k for k, r in record.nodes.items() if r.status is NodeStatus.WAITING}
        outcomes, _ = await self.settles(execution_id, waiting)
        if outcomes and await self.repository.requeue(execution_id):
            await self._resume(execution_id)

    # -- waits for child executions (``tav.core.children``) -------------------------------

    async def _children_parked(
        self, execution_id: str, node_id: str, wait: children.ChildWait
    ) -> None:
        """A node parked on child executions that parked (stored ``waiting`` by now, as
        their runs ended before): each is looked at as any execution that parked is (a
        wait of theirs decided meanwhile resumes them, as they were not tracked), and the
        node's wait is settled at once if they ended before it was opened."""
        assert self.executions is not None
        for child_id in wait.executions:
            try:
                if await self.executions.status(child_id) is ExecutionStatus.QUEUED:
                    await self._resume(child_id)  # decided before it could be resumed
                    continue
                await self._after_park(child_id)
            except Exception:
                logger.exception("looking at the parked execution %s failed", child_id)
        await self.settle_children(execution_id, node_id)

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background (awaited when the host closes)."""
        self._spawn(work)

    def run_ended(self, child_id: str, parent_id: str) -> None:
        """A resumed child execution's run ended (parked again, or for good)."""
        self._spawn(self.child_ended(child_id, parent_id))

    async def child_ended(self, child_id: str, parent_id: str) -> None:
        """A child execution's run ended (``Executions`` calls it for a resumed one): the
        wait of its parent's node for it is settled if every child it waits for has
        ended."""
        assert self.executions is not None
        with suppress(NotStored):
            await self.executions.written(child_id)
        for record in (await self.repository.of([parent_id])).get(parent_id, []):
            children_wait = record.request.children
            if record.status == OPEN and children_wait and child_id in children_wait.executions:
                await self.settle_children(parent_id, record.node_id)

    async def settle_children(self, execution_id: str, node_id: str) -> bool:
        """Decide the wait of ``node_id`` for child executions with their ends, if they
        have all ended (and resume the execution if it waits); whether it did."""
        assert self.executions is not None
        record = await self.repository.get(execution_id, node_id)
        if record is None or record.status != OPEN or record.request.children is None:
            return False
        wait = record.request.children
        ends: dict[str, children.ChildEnd] = {}
        for child_id in wait.executions:
            with suppress(NotStored):
                await self.executions.written(child_id)
            status = await self.executions.executions.status(child_id)
            if status is None:  # deleted: it cannot end
                ends[child_id] = _GONE
            elif not status.is_terminal:
                return False
            else:
                child = await self.executions.get(child_id)
                ends[child_id] = children.ChildEnd(
                    status=child.status.value, output=child.output, error=child.error
                )
        outputs, error = children.settle(wait, ends)
        outcome = WaitOutcome(error=error) if error is not None else WaitOutcome(outputs=outputs)

        def judge(found: WaitRecord) -> Verdict:
            if found.status != OPEN:
                raise _NotDue
            if found.execution_status.is_terminal:
                raise _Ended
            return Verdict(found.decisions, outcome)

        try:
            decided = await self.repository.decide(execution_id, node_id, judge)
        except (_NotDue, _Ended, NotFound):
            return False
        logger.info("the children node %s of execution %s waits for ended", node_id, execution_id)
        if decided.resumes:
            await self._resume(execution_id)
        return True

    async def settle_all_children(self) -> int:
        """Settle every open wait for child executions whose children have ended (a
        process that died between a child's end and its parent's resume left it open);
        returns how many."""
        settled = 0
        for execution_id, node_id in await self.repository.open_for_children():
            try:
                settled += await self.settle_children(execution_id, node_id)
            except Exception:
                logger.exception("settling the wait %s of %s failed", node_id, execution_id)
        return settled

    async def _resume(self, execution_id: str) -> None:
        """Resume a decided execution (back to ``queued``): here, or in queue mode on the
        worker that claims it (published now; else by the sweeper)."""
        executions = self.executions
        assert executions is not None
        if not await executions.executions.resumable(execution_id):
            return  # a child whose parent's node has yet to keep what it runs: it will
        if executions.queue is not None:
            await executions.queue.publish(execution_id)
            return
        if not executions.accepting:  # shutting down: the next start resumes it (queued)
            return
        record = await executions.get(execution_id)
        try:
            await executions.resume(record)
        except TavError as exc:  # its workflow is gone, say: it cannot go on
            logger.warning("cannot resume execution %s: %s", execution_id, exc)
            error = ErrorInfo(type=FailureKind.RESUME_FAILED, message=f"cannot resume: {exc}")
            await executions.executions.mark(execution_id, ExecutionStatus.FAILED, error)

    # -- timers ---------------------------------------------------------------------------

    async def fire_due(self, now: datetime | None = None) -> int:
        """Decide every open wait due by ``now`` (its timer, its timeout); returns how
        many this process fired (another process may have fired some first)."""
        now = now or utcnow()
        fired = 0
        while True:
            due = await self.repository.due(now, FIRE_BATCH)
            for execution_id, node_id in due:
                fired += await self._fire(execution_id, node_id, now)
            if len(due) < FIRE_BATCH:
                return fired

    async def _fire(self, execution_id: str, node_id: str, now: datetime) -> int:
        def judge(record: WaitRecord) -> Verdict:
            if record.status != OPEN or record.due_at is None or record.due_at > now:
                raise _NotDue
            if record.execution_status.is_terminal:
                raise _Ended
            return Verdict(record.decisions, due_outcome(record.request))

        try:
            decided = await self.repository.decide(execution_id, node_id, judge)
        except _NotDue:
            return 0
        except (_Ended, NotFound):
            await self.repository.forget_due(execution_id, node_id)
            return 0
        logger.info("wait %s of execution %s is due", node_id, execution_id)
        if decided.resumes:
            await self._resume(execution_id)
        return 1

    async def run_timers(self) -> None:
        """The timer loop of a server (see the module's docstring); it first settles what
        waited for child executions that ended while no process could."""
        self._wake = asyncio.Event()
        try:
            await self.settle_all_children()
        except Exception:
            logger.exception("settling the waits for child executions failed")
        while True:
            try:
                await self.fire_due()
                due = await self.repository.next_due()
            except Exception:
                logger.exception("firing the waits that are due failed")
                due = None
            pause = RECHECK_S
            if due is not None:
                pause = min(pause, max(0.0, (due - utcnow()).total_seconds()))
            with suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            self._wake.clear()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_GONE = children.ChildEnd(
    status=ExecutionStatus.FAILED.value,
    error=ErrorInfo(type="subworkflow_failed", message="its execution was deleted"),
)


class _NotDue(Exception):
    """Decided meanwhile, or its due time moved: nothing to fire."""


class _Ended(Exception):
    """Its execution ended while the wait was open: nothing to resume."""


def check_open(record: WaitRecord) -> None:
    """``Gone`` unless people may still decide the wait."""
    if record.status == DECIDED:
        port = record.outcome.port if record.outcome else None
        how = (
            "timed out"
            if port == "timeout" or (record.outcome and record.outcome.error)
            else "been decided"
        )
        raise Gone(f"this wait has {how}; its link works no more")
    if record.status == CANCELLED or record.execution_status is ExecutionStatus.CANCELLED:
        raise Gone("the execution was cancelled; its links work no more")
    if record.execution_status.is_terminal:
        raise Gone(f"the execution has {record.execution_status.value}; its links work no more")


def _verdict(record: WaitRecord, decider: Decider, answer: Answer, now: datetime) -> Verdict:
    request = record.request
    if request.children is not None:
        waited = ", ".join(request.children.executions)
        raise Conflict(
            f"node '{record.node_id}' waits for the execution(s) {waited} to end: decide "
            "their waits instead"
        )
    if request.mode is WaitMode.WEBHOOK:
        if not may_answer(request, decider):
            raise Forbidden("resuming a webhook wait needs its link or the editor role")
        call = answer.call or {"method": "POST", "headers": {}, "query": {}, "body": answer.data}
        return Verdict(record.decisions, webhook_outcome(call))
    if request.mode is WaitMode.TIMER:
        if not may_answer(request, decider):
            raise Forbidden("ending a timer early needs its link or the editor role")
        return Verdict(record.decisions, timer_outcome())
    return _approval(record, decider, answer, now)


def _approval(record: WaitRecord, decider: Decider, answer: Answer, now: datetime) -> Verdict:
    request = record.request
    if not may_decide(request, decider):
        raise Forbidden(_who(request))
    if answer.decision not in ("approve", "reject"):
        raise InputInvalid("decision: must be 'approve' or 'reject'")
    member = decider.member
    if member is None and request.approvals > 1:
        raise Forbidden("this approval counts people: decide it signed in, as yourself")
    if member is not None and any(d.by and d.by.id == member.id for d in record.decisions):
        raise Conflict(
            "you have approved this already; it needs another person's approval",
            {"approvals": len(record.decisions), "needed": request.approvals},
        )
    data, problems = forms.check(request.fields, {} if answer.data is None else answer.data)
    if problems and answer.decision == "approve":
        raise FormInvalid(problems)
    decision = Decision(
        decision="approve" if answer.decision == "approve" else "reject",
        comment=answer.comment,
        data=data if not problems else {},
        by=member,
        at=now,
    )
    decisions = [*record.decisions, decision]
    return Verdict(decisions, approval_outcome(request, decisions))


def _who(request: WaitRequest) -> str:
    named = [*request.approvers, *(f"the {role} role" for role in request.approver_roles)]
    if named:
        return "only " + ", ".join(named) + " may decide this approval (signed in)"
    return "deciding this approval needs its link or the editor role"
