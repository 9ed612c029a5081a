"""``tav run``: run a workflow file headless and report its result.

Both ways run on the host every process builds (``tav.app.root``), from the data dir:
its credentials, variables, stored files, vector collections and AI cache. The execution
is stored there like one the server runs (mode ``cli``, with the document it ran), so the
API shows it afterwards; ``--no-store`` keeps the execution in memory only. A missing data
dir is created (``tav.cli.datadir``); the summary names the data dir, and says when it is
a new one. An interrupted ``tav run`` is not resumed by ``tav serve``: that process may
still be running it.

Exit codes: 0 the execution succeeded; 1 it failed or was cancelled; 2 the workflow or the
input is invalid (every problem is listed on stderr); 3 it waits (``core.wait``): it is
stored ``waiting``, and ``tav serve`` on the same data dir fires its timers and takes its
decisions, then runs the rest.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tav.cli.output import EXIT_FAILED, EXIT_INVALID, fail

EXIT_WAITING = 3

# The engine is imported when the command runs, not when the CLI starts (``tav serve``
# and ``tav nodes`` do not need it).
if TYPE_CHECKING:
    from tav.core.errors import NotFound, WorkflowInvalid
    from tav.core.results import ExecutionResult
    from tav.core.workflow import Workflow
    from tav.engine.executor import ExecutionHandle
    from tav.engine.plan import ExecutionPlan
    from tav.engine.ports import EventBus


def run_command(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json, .yaml or .yml).")],
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", help="Trigger payload: JSON text, or @file.json."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the execution result as JSON on stdout.")
    ] = False,
    store: Annotated[
        bool,
        typer.Option(
            "--store/--no-store",
            help="Store the execution in the data dir (TAV_DATA_DIR), or keep it in memory.",
        ),
    ] = True,
) -> None:
    """Run a workflow file and wait for its result."""
    from tav.app.headless import load
    from tav.cli import datadir
    from tav.core.errors import NotFound, WorkflowInvalid
    from tav.settings import Settings

    payload = _parse_input(input)
    try:
        workflow, source = load(file)
    except (WorkflowInvalid, NotFound) as exc:
        _report_invalid(exc)
    settings = Settings()
    existed = datadir.exists(settings)
    run = _stored if store else _in_memory
    result = asyncio.run(run(workflow, source, payload, show=not as_json))
    where = str(settings.data_dir.resolve())
    if not existed and datadir.exists(settings):
        where += " (a new data dir)"
        if as_json or not store:
            typer.echo(f"data dir: {where}", err=True)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _summary(result, stored_in=where if store else None)
    if result.status.value == "waiting":
        raise typer.Exit(EXIT_WAITING)
    raise typer.Exit(0 if result.succeeded else EXIT_FAILED)


async def _in_memory(
    workflow: Workflow, source: str | None, payload: Any, *, show: bool
) -> ExecutionResult:
    from tav.app.headless import headless
    from tav.core.errors import WorkflowInvalid

    try:  # sub-workflow refs may be paths, relative to the workflow file
        host = headless(file_refs=True)
    except ImportError as exc:
        fail(str(exc))
    async with host:
        try:
            plan = host.compile(workflow, source=source)
        except WorkflowInvalid as exc:
            _report_invalid(exc)
        handle = await host.start(plan, payload)
        return await _watch(handle, host.parts.bus, plan, show=show)


async def _stored(
    workflow: Workflow, source: str | None, payload: Any, *, show: bool
) -> ExecutionResult:
    """Through a server's lifecycle: the execution is stored as it runs (an execution
    that could not be stored fails the command, though it ran)."""
    from tav.app.root import build
    from tav.app.server import Server
    from tav.core.errors import NotStored, WorkflowInvalid
    from tav.core.modes import ExecutionMode
    from tav.settings import Settings

    try:  # sub-workflow refs may be paths, relative to the workflow file
        server = Server(build(Settings(), file_refs=True))
    except ImportError as exc:
        fail(str(exc))
    parts = server.parts
    document = workflow.to_document()
    try:
        plan = parts.plans.compile(document, source=source)
    except WorkflowInvalid as exc:
        await parts.aclose()
        _report_invalid(exc)
    await server.start(resume=False, prune=False, triggers=False)
    try:
        handle = await parts.executions_service.run(
            document, payload, mode=ExecutionMode.CLI, source=source
        )
        result = await _watch(handle, parts.bus, plan, show=show)
        await parts.executions_service.written(handle.execution_id)
        return result
    except NotStored as exc:
        fail(exc.message, EXIT_FAILED)
    finally:
        await server.stop()


async def _watch(
    handle: ExecutionHandle, bus: EventBus, plan: ExecutionPlan, *, show: bool
) -> ExecutionResult:
    _cancel_on_signals(handle)
    if show:
        from tav.cli.progress import ProgressView  # rich, only when there is a view

        with ProgressView(plan, live=sys.stderr.isatty()) as view:
            async for event in bus.subscribe(handle.execution_id):
                view.update(event)
    return await handle.wait()


def _cancel_on_signals(handle: ExecutionHandle) -> None:
    """Ctrl-C (or SIGTERM) cancels the execution, which then reports as cancelled; a
    second Ctrl-C interrupts at once."""
    loop = asyncio.get_running_loop()

    def cancel() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        handle.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, cancel)


def _summary(result: ExecutionResult, *, stored_in: str | None) -> None:
    took = f" in {result.duration_ms:.0f} ms" if result.duration_ms is not None else ""
    message = f": {result.error.message}" if result.error else ""
    typer.echo(f"{result.status.value}{took}{message}", err=True)
    if stored_in is not None:
        typer.echo(f"stored as execution {result.execution_id} in {stored_in}", err=True)
    if result.status.value == "waiting":
        waiting = ", ".join(k for k, r in result.nodes.items() if r.status.value == "waiting")
        typer.echo(
            f"it waits ({waiting}): `tav serve` on this data dir fires its timers and takes "
            "its decisions (GET /api/v1/executions?status=waiting), then runs the rest",
            err=True,
        )
    if result.output is not None:
        typer.echo(json.dumps(result.output, indent=2, ensure_ascii=False))


def _parse_input(text: str | None) -> Any:
    if text is None:
        return None
    where = "--input"
    if text.startswith("@"):
        from tav.engine.loader import decode_text

        where = text[1:]
        try:
            text = decode_text(Path(where).read_bytes())
        except OSError as exc:
            fail(f"cannot read input file {where}: {exc.strerror}")
        except ValueError as exc:
            fail(f"{where} is {exc}; save it as UTF-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def _report_invalid(exc: WorkflowInvalid | NotFound) -> None:
    from tav.core.errors import WorkflowInvalid

    if isinstance(exc, WorkflowInvalid):
        where = f" {exc.source}" if exc.source else ""
        lines = [f"error: invalid workflow{where}: {len(exc.problems)} problem(s)"]
        lines += [f"  - {problem}" for problem in exc.problems]
        typer.echo("\n".join(lines), err=True)
        raise typer.Exit(EXIT_INVALID)
    fail(str(exc))
