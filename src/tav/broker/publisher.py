"""Publishing executions to the broker, bounded in time."""

from __future__ import annotations

import asyncio
import logging

from celery import Celery

from tav.broker.celery_app import RUN_EXECUTION

logger = logging.getLogger("tav.broker")


class Publisher:
    """Publishes an execution's task; never blocks its caller past ``timeout_s``.

    Celery's producer is synchronous: it runs in a thread, and a broker that does not
    answer in time leaves the caller with ``PublishFailed`` (the thread ends with the
    connection timeouts ``make_app`` sets)."""

    def __init__(self, app: Celery, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def publish(self, execution_id: str) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.to_thread(self._send, execution_id)
        except Exception as exc:  # any broker trouble: the sweeper publishes it later
            raise PublishFailed(f"could not publish execution {execution_id}: {exc!r}") from exc

    def _send(self, execution_id: str) -> None:
        self.app.send_task(RUN_EXECUTION, args=[execution_id], retry=False)

    async def alive(self) -> bool:
        """Whether the broker answers within the timeout."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.to_thread(self._ping)
        except Exception:
            return False
        return True

    def _ping(self) -> None:
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=self.timeout_s)

    def close(self) -> None:
        self.app.close()


class PublishFailed(Exception):
    pass
