"""``tav worker``'s Celery application: the task that runs an execution, and the worker
process's start and shutdown.

Celery's own worker runs it (``tav worker`` starts it with the threads pool and hands it
this module by name): late acknowledgement and ``reject_on_worker_lost``
(``tav.broker.celery_app``), one prefetched task per thread. The task carries the
execution's id only; the ``Runner`` on the worker's event loop does the rest.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from celery.exceptions import Reject
from celery.signals import worker_init, worker_shutdown, worker_shutting_down

from tav.app import connections, topology
from tav.app.root import build
from tav.broker.celery_app import RUN_EXECUTION, make_app
from tav.queue.loop import LoopThread
from tav.queue.runner import Outcome, Runner
from tav.settings import Settings


class WorkerProcess:
    """The worker's loop and runner, started and stopped with Celery's worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = LoopThread()
        self.runner: Runner | None = None
        self._stopping: concurrent.futures.Future[None] | None = None

    def start(self, concurrency: int) -> None:
        """Start for ``concurrency`` executions at once (Celery's ``--concurrency``): the
        database pool is sized from it (``tav.app.connections``)."""
        opens = connections.for_worker(concurrency)
        self.loop.start()
        self.runner = Runner(build(self.settings, database_pool=opens.pool))
        self.loop.call(self.runner.start())
        self.loop.call(connections.announce(self.runner.parts.db, opens))

    def run(self, execution_id: str) -> Outcome:
        if self.runner is None or self._stopping is not None:
            return "refused"
        try:
            return self.loop.call(self.runner.run(execution_id))
        except concurrent.futures.CancelledError:  # the worker is shutting down
            return "refused"

    def begin_stop(self) -> None:
        """SIGTERM: stop taking work; running executions get the shutdown timeout."""
        if self.runner is not None and self._stopping is None:
            self._stopping = self.loop.submit(self.runner.stop(self.settings.shutdown_timeout_s))

    def stop(self) -> None:
        self.begin_stop()
        if self._stopping is not None:
            self._stopping.result(timeout=self.settings.shutdown_timeout_s + 10)
        self.loop.stop()


settings = Settings()
topology.check(settings)
assert settings.queue_url is not None
app = make_app(settings.queue_url, publish_timeout_s=settings.queue_publish_timeout_s)
process = WorkerProcess(settings)


def run_execution(execution_id: str) -> str:
    """The task: run the execution with this id (its row holds everything else)."""
    outcome = process.run(execution_id)
    if outcome == "refused":  # shutting down: back to the queue, for another worker
        raise Reject("the worker is shutting down", requeue=True)
    if outcome == "again":  # the database could not be asked (said in the log)
        raise Reject("the database could not be asked", requeue=True)
    return outcome


def _started(sender: Any, **_: Any) -> None:
    process.start(int(sender.concurrency))


def _shutting_down(**_: Any) -> None:
    process.begin_stop()


def _stopped(**_: Any) -> None:
    process.stop()


# (Registered by calls rather than decorators: Celery's are untyped.)
app.task(name=RUN_EXECUTION, acks_late=True, reject_on_worker_lost=True)(run_execution)
worker_init.connect(_started, weak=False)
worker_shutting_down.connect(_shutting_down, weak=False)
worker_shutdown.connect(_stopped, weak=False)
