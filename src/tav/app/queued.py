"""Queue mode's side of starting executions: committed as queued, then published.

The order is the guarantee. An execution's row is committed first (``enqueue``), and only
then is its task published, carrying its id: a worker never gets a task for a row it
cannot read, and a row committed but not published (this process died in between, or the
broker was down, or slower than ``TAV_QUEUE_PUBLISH_TIMEOUT_S``) is published by the
sweeper of any API process (``Sweeper``) within seconds. A request is answered once the
row is committed, whatever the broker does.

Rejected: publishing first and committing after (n8n's lost executions: a worker takes the
task before the row exists, or the commit fails after the publish), and a transactional
outbox table (the ``published_at`` column of the row itself says the same with no extra
writes).

``QueuedHandle`` stands for an execution another process runs: waiting on it reads its
row until it has ended (``wait=true``, webhooks answering when done); cancelling it asks
the worker that runs it to stop it (``tav.storage.cancels``: a flag on its row and a
PostgreSQL notification, which work with either broker).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from tav.core.errors import NotFound
from tav.core.events import FINAL_EVENT_TYPES, utcnow
from tav.core.results import ExecutionResult
from tav.engine.ports import EventBus
from tav.storage.cancels import request_cancel
from tav.storage.db import unreachable
from tav.storage.executions import ExecutionRepository
from tav.storage.leases import Lease, LeaseRepository

logger = logging.getLogger("tav.queue")
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.25
SWEEP_BATCH = 200


class Publisher(Protocol):
    """The broker's client (``tav.broker.publisher.Publisher``)."""

    async def publish(self, execution_id: str) -> None: ...

    async def alive(self) -> bool: ...

    async def workers(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    name: str
    concurrency: int
    running: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    broker_up: bool
    queued: int
    """Executions waiting for a worker (published or not)."""
    running: int
    unpublished: int
    """Of the queued, those the broker has not taken yet (the sweeper publishes them)."""
    oldest_queued_age_s: float | None
    workers: list[WorkerStatus]


class Relay(EventBus, Protocol):
    """Live events between processes (``tav.broker.relay.EventRelay``)."""

    async def aclose(self) -> None: ...


class Queue:
    """Queue mode as the API processes use it: enqueue, and wait for what workers run.

    ``relay``: live events from the workers (with a Redis broker), which waiting on an
    execution listens to for its end; without it, waiting reads the row only."""

    def __init__(
        self,
        leases: LeaseRepository,
        publisher: Publisher,
        executions: ExecutionRepository,
        relay: Relay | None = None,
    ) -> None:
        self.leases = leases
        self.publisher = publisher
        self.executions = executions
        self.relay = relay
        self._published: list[str] = []
        self._marking: asyncio.Task[None] | None = None

    async def enqueue(self, execution: dict[str, Any], data: dict[str, Any]) -> None:
        """Commit the execution as queued, then publish it (or leave it to the sweeper)."""
        await self.leases.insert_queued(execution, data)
        await self.publish(execution["id"])

    async def publish(self, execution_id: str) -> bool:
        try:
            await self.publisher.publish(execution_id)
        except Exception as exc:  # the sweeper publishes it: the request goes on
            logger.warning("%s; the sweeper will publish it", exc)
            return False
        self._published.append(execution_id)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.ensure_future(self._mark_published())
        return True

    async def _mark_published(self) -> None:
        """Note what was published, many at once: under load, one UPDATE for all the
        requests that published meanwhile rather than one each. Not noted (this process
        died first, or the database refused): the sweeper publishes it again after its
        grace, and the second task finds it claimed or ended, harmlessly."""
        while self._published:
            await asyncio.sleep(0)  # the publishes finishing now join this one
            ids, self._published = self._published, []
            try:
                await self.leases.published(ids)
            except Exception as exc:
                logger.warning("could not note %d executions as published: %s", len(ids), exc)

    async def status(self) -> QueueStatus:
        """How the queue stands: its depth from the database, the broker and the workers
        from the broker (at most ``TAV_QUEUE_PUBLISH_TIMEOUT_S`` each)."""
        depth = await self.leases.depth()
        alive, workers = await asyncio.gather(self.publisher.alive(), self.publisher.workers())
        oldest = depth.oldest_queued_at
        age = (utcnow() - oldest).total_seconds() if oldest is not None else None
        return QueueStatus(
            broker_up=alive,
            queued=depth.queued,
            running=depth.running,
            unpublished=depth.unpublished,
            oldest_queued_age_s=age,
            workers=[WorkerStatus(**worker) for worker in workers],
        )

    async def cancel(self, execution_id: str, *, child: bool = False) -> Lease | None:
        """Ask for the execution to be cancelled (``CancelNotFound`` if it is not a
        top-level unfinished one; with ``child``, a sub-execution that goes on by itself,
        its wait decided, may be one), and claim it if nobody holds it (queued, or its
        worker died): the caller then cancels it itself, at once. ``None``: a worker runs
        it, and stops it (a worker that claims it later cancels it as it starts)."""
        if not await request_cancel(self.leases.db, execution_id, child=child):
            if child:
                return None
            raise CancelNotFound(execution_id)
        return await self.leases.claim(execution_id, worker_name(), runs=False)

    def handle(self, execution_id: str) -> QueuedHandle:
        return QueuedHandle(execution_id, self.executions, self.relay, cancel=self._request)

    async def _request(self, execution_id: str) -> None:
        await request_cancel(self.leases.db, execution_id)

    async def aclose(self) -> None:
        if self._marking is not None:
            await asyncio.gather(self._marking, return_exceptions=True)
        self.publisher.close()
        if self.relay is not None:
            await self.relay.aclose()


class QueuedHandle:
    """An execution a worker runs, seen from an API process."""

    def __init__(
        self,
        execution_id: str,
        executions: ExecutionRepository,
        relay: EventBus | None = None,
        *,
        cancel: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.execution_id = execution_id
        self._executions = executions
        self._relay = relay
        self._cancel = cancel
        self._cancelling: asyncio.Task[None] | None = None
        self._waiting: asyncio.Task[ExecutionResult] | None = None

    def done(self) -> bool:
        return self._waiting is not None and self._waiting.done()

    def cancel(self) -> None:
        """Ask the worker that runs it (or the first to claim it) to stop it."""
        if self._cancel is not None and self._cancelling is None:
            self._cancelling = asyncio.ensure_future(self._cancel(self.execution_id))

    def add_done_callback(self, callback: Callable[[], object]) -> None:
        self._task().add_done_callback(lambda _: callback())

    async def wait(self) -> ExecutionResult:
        return await asyncio.shield(self._task())

    def _task(self) -> asyncio.Task[ExecutionResult]:
        if self._waiting is None:
            self._waiting = asyncio.ensure_future(self._ended())
        return self._waiting

    async def _ended(self) -> ExecutionResult:
        """Read the row until it has ended: at once when the relay brings the final event
        (the worker commits right after it), else polling with backoff (20 to 250 ms)."""
        final = asyncio.Event()
        listening = asyncio.ensure_future(self._final_event(final)) if self._relay else None
        pause = POLL_FIRST_S
        try:
            while True:
                status = await self._executions.status(self.execution_id)
                if status is None:  # a success of a workflow that keeps only a count
                    raise NotFound(
                        f"execution {self.execution_id!r} is not stored: its workflow keeps "
                        "only a count of its successes"
                    )
                if status.at_rest:  # ended, or parked (waiting)
                    record = await self._executions.get(self.execution_id)
                    if record is not None:
                        return record.result()
                with suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await final.wait()
                pause = POLL_FIRST_S if final.is_set() else min(pause * 2, POLL_MAX_S)
        finally:
            if listening is not None:
                listening.cancel()

    async def _final_event(self, final: asyncio.Event) -> None:
        assert self._relay is not None
        async for event in self._relay.subscribe(self.execution_id):
            if event.type in FINAL_EVENT_TYPES:
                final.set()


class CancelNotFound(Exception):
    """No top-level unfinished execution has this id."""


def worker_name() -> str:
    """This process, as the ``worker`` of what it runs: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Sweeper:
    """Publishes, every ``every_s``, what is committed but unpublished, what a dead
    worker left (its lease expired), and what the broker lost (unclaimed ``republish_s``
    after it was published). Runs in every ``tav serve`` of queue mode; the rows
    are locked ``FOR UPDATE SKIP LOCKED``, so each is published by one sweeper at a time."""

    def __init__(self, queue: Queue, *, every_s: float, grace_s: float, republish_s: float) -> None:
        self.queue = queue
        self.every_s = every_s
        self.grace_s = grace_s
        self.republish_s = republish_s

    async def sweep(self) -> int:
        """Publish one round; returns how many were published."""
        leases = self.queue.leases
        unpublished = leases.unpublished(
            older_than_s=self.grace_s, republish_s=self.republish_s, limit=SWEEP_BATCH
        )
        async with unpublished as (connection, ids):
            published = []
            for execution_id in ids:
                try:
                    await self.queue.publisher.publish(execution_id)
                except Exception as exc:
                    logger.warning("sweeper: %s", exc)
                    break  # the broker is down: the rest wait for the next round
                published.append(execution_id)
            await leases.mark_published(connection, published)
        if published:
            logger.info("sweeper published %d executions", len(published))
        return len(published)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                if not unreachable(exc):
                    logger.exception("sweeping the queue failed")
                else:  # (said every round: the database is down, not a bug to trace)
                    logger.warning("sweeping the queue failed: the database cannot be reached")
            await asyncio.sleep(self.every_s)
