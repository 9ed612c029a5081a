"""Publishing executions to the broker, bounded in time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from celery import Celery

from tav.broker.celery_app import RUN_EXECUTION

logger = logging.getLogger("tav.broker")
INSPECT_S = 0.5
PUBLISH_THREADS = 8
T = TypeVar("T")


class Publisher:
    """Publishes an execution's task; never blocks its caller past ``timeout_s``.

    Celery's producer is synchronous: it runs in a thread, and a broker that does not
    answer in time leaves the caller with ``PublishFailed`` (the thread ends with the
    connection timeouts ``make_app`` sets)."""

    def __init__(self, app: Celery, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s
        # Threads of its own: a broker that hangs must not take the threads the rest of
        # the process runs work off its event loop on (asyncio's default executor).
        self._threads = ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="tav-publish")

    async def publish(self, execution_id: str) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._off_loop(self._send, execution_id)
        except Exception as exc:  # any broker trouble: the sweeper publishes it later
            raise PublishFailed(f"could not publish execution {execution_id}: {exc!r}") from exc

    def _send(self, execution_id: str) -> None:
        self.app.send_task(RUN_EXECUTION, args=[execution_id], retry=False)

    async def alive(self) -> bool:
        """Whether the broker answers within the timeout."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._off_loop(self._ping)
        except Exception:
            return False
        return True

    def _ping(self) -> None:
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=self.timeout_s)

    async def workers(self) -> list[dict[str, Any]]:
        """The workers answering within ``INSPECT_S`` (Celery's remote control, which
        waits that long for every answer): each one's name, concurrency and how many
        executions it runs now."""
        try:
            async with asyncio.timeout(INSPECT_S + self.timeout_s):
                stats, active = await asyncio.gather(
                    self._off_loop(self._inspect, "stats"),
                    self._off_loop(self._inspect, "active"),
                )
        except Exception:
            return []
        return [
            {
                "name": name,
                "concurrency": int(info.get("pool", {}).get("max-concurrency", 0)),
                "running": len(active.get(name, [])),
            }
            for name, info in sorted(stats.items())
        ]

    def _inspect(self, what: str) -> dict[str, Any]:
        answers: dict[str, Any] = getattr(self.app.control.inspect(timeout=INSPECT_S), what)()
        return answers or {}

    async def _off_loop(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, call, *args)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.app.close()


class PublishFailed(Exception):
    pass
