"""``tav queue status``: queue mode at a glance, from the database and the broker that
TAV_DATABASE_URL and TAV_QUEUE_URL name (what ``GET /api/v1/queue`` shows)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Annotated

import typer

from tav.cli.output import fail

app = typer.Typer(help="Queue mode: executions waiting, workers alive.", no_args_is_help=True)


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """Queue depth, the oldest queued execution's age, the broker, the API process that
    leads the triggers, and each worker alive with its concurrency and running count."""
    from tav.app import topology
    from tav.app.queued import QueueStatus
    from tav.app.root import build
    from tav.settings import Settings

    settings = Settings()
    if not topology.queue_mode(settings):
        fail("not in queue mode: TAV_QUEUE_URL is not set (one process runs everything)")
    try:
        parts = build(settings)
    except topology.TopologyInvalid as exc:
        fail(str(exc))

    async def read() -> tuple[QueueStatus, str | None]:
        assert parts.queue is not None
        try:
            return await parts.queue.status(), await parts.triggers.leader()
        finally:
            await parts.queue.aclose()
            await parts.aclose()

    found, leader = asyncio.run(read())
    if as_json:
        typer.echo(json.dumps({**asdict(found), "trigger_leader": leader}, indent=2))
        return
    age = found.oldest_queued_age_s
    typer.echo(f"broker:      {'up' if found.broker_up else 'DOWN'}")
    typer.echo(f"triggers:    {f'led by {leader}' if leader else 'NO LEADER (taking over)'}")
    typer.echo(f"queued:      {found.queued} ({found.unpublished} not yet published)")
    typer.echo(f"running:     {found.running}")
    typer.echo(f"oldest:      {f'{age:.1f} s' if age is not None else '-'}")
    typer.echo(f"workers:     {len(found.workers)}")
    for worker in found.workers:
        typer.echo(f"  {worker.name}  running {worker.running} of {worker.concurrency}")
