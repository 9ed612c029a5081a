"""``tav workflows``: list stored workflows and (de)activate them, on the data dir.

These commands work with or without a server running. A running server reads the
``active`` flags every ``TAV_TRIGGER_SYNC_S`` seconds (default 5): it arms the triggers of a
workflow activated here, and disarms those of one deactivated here, within that time.
(Through the API, ``POST /api/v1/workflows/{id}/activate`` arms them at once.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from tav.cli.output import EXIT_FAILED, fail

if TYPE_CHECKING:  # SQLAlchemy is imported when a command runs, not when the CLI starts
    from tav.app.workflows import Workflows
    from tav.storage.workflows import WorkflowRepository

T = TypeVar("T")
app = typer.Typer(help="List stored workflows and activate their triggers.", no_args_is_help=True)


def _with_workflows(action: Callable[[WorkflowRepository], Awaitable[T]]) -> T:
    """``action`` on the data dir's workflows (named on stderr; a missing one is refused:
    a new data dir has none)."""
    from tav.cli.datadir import open_data_dir
    from tav.settings import Settings
    from tav.storage.db import Database
    from tav.storage.workflows import WorkflowRepository

    settings = Settings()
    open_data_dir(settings, can_init=False)

    async def run() -> T:
        db = Database(settings.resolved_database_url())
        try:
            await db.migrate()
            return await action(WorkflowRepository(db, cache_ttl_s=0))
        finally:
            await db.close()

    return asyncio.run(run())


@app.command("list")
def list_workflows() -> None:
    """List stored workflows: id, active or not, version and name."""

    async def find(workflows: WorkflowRepository) -> list[str]:
        found, _ = await workflows.find(limit=200)
        return [
            f"{w.id}  {'active  ' if w.active else 'inactive'}  v{w.version}  {w.name}"
            for w in found
        ]

    for line in _with_workflows(find):
        typer.echo(line)


@app.command("activate")
def activate(workflow_id: Annotated[str, typer.Argument(help="The workflow's id.")]) -> None:
    """Mark the workflow active: its triggers are armed by a running server within
    TAV_TRIGGER_SYNC_S seconds, and at every start of the server."""
    name = _with_workflows(lambda workflows: _activate(_use_cases(workflows), workflow_id))
    typer.echo(f"workflow {name!r} is active", err=True)


@app.command("deactivate")
def deactivate(workflow_id: Annotated[str, typer.Argument(help="The workflow's id.")]) -> None:
    """Mark the workflow inactive: a running server disarms its triggers within
    TAV_TRIGGER_SYNC_S seconds."""
    from tav.core.errors import NotFound

    async def run(workflows: WorkflowRepository) -> str:
        try:
            return (await _use_cases(workflows).deactivate(workflow_id)).name
        except NotFound as exc:
            fail(str(exc), EXIT_FAILED)

    name = _with_workflows(run)
    typer.echo(f"workflow {name!r} is inactive", err=True)


async def _activate(workflows: Workflows, workflow_id: str) -> str:
    """The checks of the API's activation, then the flag (credentials are checked when
    the server arms the triggers)."""
    from tav.core.errors import NotFound, WorkflowInvalid
    from tav.triggers import ActivationInvalid, TriggerClash

    try:
        workflow = await workflows.get(workflow_id)
    except NotFound as exc:
        fail(str(exc), EXIT_FAILED)
    try:
        await workflows.activate(workflow.id)
    except (ActivationInvalid, WorkflowInvalid, TriggerClash, NotFound) as exc:
        fail(f"cannot activate workflow {workflow.name!r}: {exc}", EXIT_FAILED)
    return workflow.name


def _use_cases(workflows: WorkflowRepository) -> Workflows:
    """The workflow use cases of a process that arms no triggers: a running server arms
    them (``DeferredTriggers``)."""
    from tav.app.plans import Plans
    from tav.app.workflows import DeferredTriggers, Workflows
    from tav.engine.executor import Executor
    from tav.nodes.discovery import default_registry
    from tav.settings import Settings
    from tav.triggers.discovery import default_trigger_kinds

    paths = Settings().nodes_path
    registry = default_registry(paths)
    triggers = DeferredTriggers(workflows, registry, default_trigger_kinds(paths))
    return Workflows(workflows, triggers, Plans(Executor(registry)))
