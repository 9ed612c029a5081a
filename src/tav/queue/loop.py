"""The worker's one long-lived asyncio event loop, in a thread of its own.

Celery's task bodies are synchronous and run on its pool's threads; each hands its
execution to this loop and waits for the outcome. So one worker process runs many
executions at once on one loop (its database pool, HTTP clients and node pools shared,
as in ``tav serve``), and Celery's ``--concurrency`` bounds how many it takes.

Rejected: ``asyncio.run`` per task (a loop, a database pool and HTTP clients per
execution, and nothing shared between them), and prefork processes per execution
(memory per process, and an I/O-bound workflow spends its time waiting).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tav worker loop", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the loop and wait for its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def submit(self, work: Coroutine[Any, Any, T]) -> Any:
        """Start ``work`` on the loop without waiting; returns its future."""
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
