"""What a worker does with an execution, on its event loop: claim, run, renew, hand back.

The lease (``tav.storage.leases``) is the one truth of who runs an execution. A task for
an execution someone else holds, or one that ended, does nothing: tasks may be delivered
twice (the broker redelivering a dead worker's task, the sweeper republishing an expired
lease), and the claim decides. While it runs, every lease of this worker is renewed every
third of its length; a lease that cannot be renewed (this worker was frozen or cut off
past its expiry) stops the execution at once and stores nothing more of it: whoever took
it over goes on from what is stored. Writes are fenced in the writer, so even a batch in
flight when the lease was taken is refused.

Cancelling: an API process flags the execution and notifies the workers
(``tav.storage.cancels``); the worker holding it stops it at once, as a single process
does (running nodes cancelled, the rest never run, ``execution.cancelled``). A flag it
did not hear of is read with the next renewal, or when the execution is claimed.

Shutting down (SIGTERM): no new claims, running executions get ``shutdown_timeout_s``,
and the rest are handed back (lease freed, unpublished) for the sweeper to publish again
at once; nothing about them is recorded as cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError

from tav.app.queued import worker_name
from tav.app.root import RecordingParts
from tav.app.server import prepare
from tav.core.errors import FailureKind, NotStored, TavError
from tav.core.results import ErrorInfo
from tav.core.states import ExecutionStatus
from tav.credentials import logs as redacting_logs
from tav.credentials.logs import RedactingFilter
from tav.engine.bus import InMemoryBus
from tav.engine.executor import ExecutionHandle
from tav.storage.cancels import CancelListener
from tav.storage.db import refused, unreachable
from tav.storage.leases import Lease, LeaseRepository

logger = logging.getLogger("tav.queue")
Outcome = Literal["ran", "taken", "refused", "again"]
"""``refused``: shutting down; ``again``: the database could not be asked (its task goes
back to the broker, for this worker or another)."""
STOP_RUNS_S = 5.0
CLAIM_AGAIN_S = 1.0


class Runner:
    def __init__(self, parts: RecordingParts, *, name: str | None = None) -> None:
        assert parts.queue is not None, "a worker runs in queue mode only"
        self.parts = parts
        self.name = name or worker_name()
        self.leases: LeaseRepository = parts.queue.leases
        self.held: dict[str, Lease] = {}
        self.running: dict[str, ExecutionHandle] = {}
        self.accepting = False
        self._runs: set[asyncio.Task[Any]] = set()
        """The ``run`` calls under way (whatever step they are at)."""
        self.cancelling: set[str] = set()
        """Held executions asked to be cancelled before they started here."""
        self._renewing: asyncio.Task[None] | None = None
        self._redacting: RedactingFilter | None = None
        self.listener = CancelListener(parts.db, self.cancel)

    async def start(self) -> None:
        self._redacting = await prepare(self.parts)
        self.parts.writer.start()
        self.accepting = True
        self._renewing = asyncio.create_task(self._renew_forever(), name="tav lease renewal")
        self.listener.start()

    async def run(self, execution_id: str) -> Outcome:
        """Run the execution if this worker wins its lease; returns once it has ended and
        is stored, or was taken over, or could not be claimed (cancelled by ``stop``)."""
        task = asyncio.current_task()
        assert task is not None
        self._runs.add(task)
        try:
            return await self._run(execution_id)
        finally:
            self._runs.discard(task)

    async def _run(self, execution_id: str) -> Outcome:
        if not self.accepting:
            return "refused"
        if execution_id in self.held:  # a task delivered twice, to this very worker
            return "taken"
        try:
            lease = await self.leases.claim(execution_id, self.name, read=True)
        except (OSError, SQLAlchemyError) as exc:
            if not unreachable(exc):
                raise
            why = refused(exc) or "the database cannot be reached"
            logger.warning("cannot claim execution %s: %s; back to the queue", execution_id, why)
            await asyncio.sleep(CLAIM_AGAIN_S)  # (not at once: the database needs a moment)
            return "again"
        if lease is None:
            return "taken"
        self.held[execution_id] = lease
        if lease.cancel:
            self.cancelling.add(execution_id)
        writer = self.parts.writer
        writer.taken_again(execution_id)  # (stored again, whatever happened to it here before)
        writer.fences[execution_id] = lease.token
        writer.starting(execution_id)
        stored = False
        try:
            handle = await self._start(lease)
            if handle is None:  # (recorded as failed)
                stored = True
                return "ran"
            self.running[execution_id] = handle
            if execution_id in self.cancelling:
                handle.cancel()
            await handle.wait()
            try:
                await writer.flush(execution_id)
                stored = True
            except NotStored:  # taken over meanwhile, or its updates could not be stored
                stored = False
        finally:
            self.running.pop(execution_id, None)
            self.cancelling.discard(execution_id)
            writer.fences.pop(execution_id, None)
            if self.accepting and self.held.pop(execution_id, None) is not None:
                # (shutting down: ``stop`` hands it back). One whose end could not be stored
                # is handed back, for the sweeper to publish again and a worker to go on
                # from what is stored: released, it would stay ``running`` with no lease.
                # (Taken over meanwhile, the lease is no longer this one: nothing changes.)
                if not stored:
                    await self.leases.hand_back(lease)
                elif not writer.lease_freed(execution_id):  # (else freed with its end)
                    await self.leases.release(lease)
        return "ran"

    async def _start(self, lease: Lease) -> ExecutionHandle | None:
        """Resume the execution here; one that cannot resume (its workflow is gone, say)
        is recorded as failed, saying why."""
        executions = self.parts.executions_service
        try:
            record = lease.record or await executions.get(lease.execution_id)
            return await executions.resume(record, skip=lease.skip, reuse=lease.reuse)
        except TavError as exc:
            logger.warning("cannot run execution %s: %s", lease.execution_id, exc)
            error = ErrorInfo(type=FailureKind.RESUME_FAILED, message=f"cannot run: {exc}")
            await self.parts.executions.mark(lease.execution_id, ExecutionStatus.FAILED, error)
            return None

    async def _renew_forever(self) -> None:
        every = self.leases.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            freed = self.parts.writer.freed  # (ended: their run is about to let go)
            held = [lease for k, lease in self.held.items() if k not in freed]
            if not held:
                continue
            try:
                renewal = await self.leases.renew(held)
            except Exception:
                logger.exception("renewing leases failed")
                continue
            for execution_id in renewal.lost:
                self._lose(execution_id)
            for execution_id in renewal.cancelled:
                self.cancel(execution_id)

    def cancel(self, execution_id: str) -> None:
        """Someone asked to cancel the execution: stop it if this worker holds it."""
        if execution_id not in self.held or execution_id in self.cancelling:
            return
        logger.info("cancelling execution %s", execution_id)
        self.cancelling.add(execution_id)
        handle = self.running.get(execution_id)
        if handle is not None:
            handle.cancel()

    def _lose(self, execution_id: str) -> None:
        """The lease is gone: store nothing more of the execution, and stop it here."""
        logger.warning("lost the lease of execution %s: stopping it here", execution_id)
        self.held.pop(execution_id, None)
        self.parts.writer.abandon(execution_id)
        handle = self.running.get(execution_id)
        if handle is not None:
            handle.cancel()

    async def stop(self, timeout_s: float) -> None:
        """Take nothing new; give running executions ``timeout_s``; hand back the rest."""
        self.accepting = False
        pending = [asyncio.ensure_future(h.wait()) for h in self.running.values()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        await self.parts.writer.close()
        self.parts.executor.bus = InMemoryBus()  # what they do from here is not stored
        for handle in list(self.running.values()):
            handle.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        # Runs at another step (claiming, starting) end too: their tasks go back to the
        # broker (``WorkerProcess.run``), their executions to the sweeper.
        runs = list(self._runs)
        for task in runs:
            task.cancel()
        if runs:
            await asyncio.wait(runs, timeout=STOP_RUNS_S)
        for lease in list(self.held.values()):  # (one that ended meanwhile stays ended)
            await self.leases.hand_back(lease)
        self.held.clear()
        if self._renewing is not None:
            self._renewing.cancel()
        await self.listener.aclose()
        assert self.parts.queue is not None
        await self.parts.queue.aclose()
        await self.parts.aclose()
        if self._redacting is not None:
            redacting_logs.uninstall(self._redacting)
