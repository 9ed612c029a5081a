"""``tav worker``: a queue mode worker (Celery's own worker, threads pool).

Celery is handed the worker's application by name (``tav.queue.worker:app``), as uvicorn
is handed the API's: the CLI and the queue are separate entry points.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tav.app import topology
from tav.settings import Settings

APP = "tav.queue.worker:app"


def worker_command(
    concurrency: Annotated[
        int, typer.Option(min=1, max=1000, help="Executions this worker runs at once.")
    ] = 50,
) -> None:
    """Run executions from the queue (TAV_QUEUE_URL) until SIGTERM."""
    settings = Settings()
    if not topology.queue_mode(settings):
        typer.echo("error: tav worker needs TAV_QUEUE_URL (queue mode)", err=True)
        raise typer.Exit(2)
    try:
        topology.check(settings)
    except topology.TopologyInvalid as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from celery.bin.celery import celery

    from tav.broker.celery_app import QUEUE

    args = [
        "-A", APP, "worker",
        "--pool=threads", f"--concurrency={concurrency}",
        "-Q", QUEUE, "-n", f"tav-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle",
        f"--loglevel={settings.log_level.upper()}",
    ]  # fmt: skip
    celery.main(args=args, prog_name="tav worker")
