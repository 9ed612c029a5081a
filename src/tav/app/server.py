"""The lifecycle of a process that records its executions: ``tav serve``, and ``tav run``.

``Server`` runs over the parts ``tav.app.root.build`` made (``server.parts``): at start it
prepares the data dir (``prepare``), settles the executions of dead ``tav run``
processes, starts the writer, arms the active workflows' triggers and resumes what a dead
server left unfinished; it prunes old executions every hour; and it shuts down so that
whatever it could not finish resumes on the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from tav.app import connections
from tav.app.queued import Sweeper
from tav.app.root import Parts, RecordingParts
from tav.credentials import logs as redacting_logs
from tav.credentials.logs import RedactingFilter
from tav.engine.bus import InMemoryBus
from tav.settings import Settings
from tav.storage.private import secure_data_dir

logger = logging.getLogger("tav.server")
PRUNE_EVERY_S = 3600
PRUNE_FIRST_AFTER_S = 60


async def prepare(parts: Parts) -> RedactingFilter:
    """Make the data dir ready to run workflows from: private file modes, the newest
    schema, the stored runtime settings over the environment's, and every stored secret
    known to the vault and kept out of the process's logs (the filter returned, to take
    off with ``tav.credentials.logs.uninstall`` once the process is done)."""
    secure_data_dir(parts.settings.data_dir)
    await parts.db.migrate()
    parts.settings_service.apply(await parts.stored_settings.all())
    redacting = redacting_logs.install(parts.vault)
    try:
        await parts.credentials.remember_all()
    except Exception as exc:  # a wrong key must not keep the process from starting
        logger.warning("cannot read the stored credentials: %s", exc)
    return redacting


class Server:
    def __init__(self, parts: RecordingParts) -> None:
        self.parts = parts
        self._redacting: RedactingFilter | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._drain: asyncio.Future[None] | None = None

    @property
    def settings(self) -> Settings:
        """The settings in force: the environment's, with the stored runtime settings over
        them (``parts.settings_service``)."""
        return self.parts.settings_service.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.parts.settings_service.settings = settings

    # -- lifecycle ------------------------------------------------------------------------

    async def start(
        self, *, resume: bool = True, prune: bool = True, triggers: bool = True
    ) -> None:
        self._redacting = await prepare(self.parts)
        await connections.announce(self.parts.db, connections.for_server(self.parts.db.pool_size))
        executions = self.parts.executions_service
        await executions.settle_abandoned()
        self.parts.writer.start()
        self.parts.collab.start()
        executions.accepting = True
        if triggers:  # the active workflows' webhooks, schedules, subscriptions, pollers
            await self.parts.triggers.start()
        queue = self.parts.queue
        if queue is not None:  # workers resume what is unfinished; the sweeper republishes
            settings = self.settings
            grace = settings.queue_publish_timeout_s + settings.queue_sweep_s
            sweeper = Sweeper(
                queue,
                every_s=settings.queue_sweep_s,
                grace_s=grace,
                republish_s=settings.queue_republish_s,
            )
            self._spawn(sweeper.run_forever())
        elif resume:
            await executions.resume_unfinished()
        if resume and self.parts.waits is not None:  # what waits on a timer, in one loop
            self._spawn(self.parts.waits.run_timers())
        if prune:
            self._spawn(self._prune_forever())

    async def stop(self, *, timeout_s: float | None = None) -> None:
        """Stop taking runs, give running ones ``timeout_s`` to finish, and leave the rest
        to resume on the next start (nothing about them is recorded as cancelled)."""
        await self.drain(timeout_s=timeout_s)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.parts.waits is not None:
            await self.parts.waits.aclose()
        if self.parts.queue is not None:
            await self.parts.queue.aclose()
        await self.parts.aclose()
        if self._redacting is not None:
            redacting_logs.uninstall(self._redacting)

    def drain(self, *, timeout_s: float | None = None) -> asyncio.Future[None]:
        """Begin shutting down (idempotent): no new runs; running executions get
        ``timeout_s`` (default: the ``shutdown_timeout_s`` setting) to finish; what is
        written then is what the next start resumes from."""
        self.parts.executions_service.accepting = False
        if self._drain is None:
            timeout = self.settings.shutdown_timeout_s if timeout_s is None else timeout_s
            self._drain = asyncio.ensure_future(self._wind_down(timeout))
        return self._drain

    async def _wind_down(self, timeout_s: float) -> None:
        await self.parts.collab.close()  # the drafts written, their people told to come back
        await self.parts.triggers.stop()
        running = self.parts.executions_service.running
        pending = [asyncio.ensure_future(h.wait()) for h in running.values()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        await self.parts.writer.close()
        # What the interrupted executions do from here (cancelled nodes, a cancelled end)
        # is neither stored nor shown to watchers: they go on after the next start.
        self.parts.executor.bus = InMemoryBus()
        for handle in list(running.values()):
            handle.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- retention ------------------------------------------------------------------------

    async def prune(self) -> int:
        """Apply retention: executions (with their files) and AI answers past their age;
        returns how many executions went."""
        parts, days = self.parts, self.settings.retention_max_age_days
        removed = await parts.executions.prune(
            max_age=timedelta(days=days) if days is not None else None,
            max_count=self.settings.retention_max_count,
        )
        if removed:
            await parts.files.sweep()  # the files of pruned executions went with them
        cache = parts.ai_cache
        answers = await cache.prune(cache.max_age) if cache.max_age else 0
        if answers:
            logger.info("pruned %d cached model answers", answers)
        if removed or answers:
            await parts.db.reclaim_space()
        return removed

    async def _prune_forever(self) -> None:
        await asyncio.sleep(PRUNE_FIRST_AFTER_S)  # not while starting up
        while True:
            try:
                removed = await self.prune()
                if removed:
                    logger.info("pruned %d executions", removed)
            except Exception:
                logger.exception("pruning executions failed")
            await asyncio.sleep(PRUNE_EVERY_S)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
