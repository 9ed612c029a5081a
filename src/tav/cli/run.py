"""``tav run``: run a workflow file headless and report its result.

Exit codes: 0 the execution succeeded; 1 it failed or was cancelled; 2 the workflow or the
input is invalid (every problem is listed on stderr).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from tav.cli.output import EXIT_FAILED, EXIT_INVALID, fail
from tav.cli.progress import ProgressView
from tav.core.errors import NotFound, WorkflowInvalid
from tav.core.results import ExecutionResult
from tav.engine.executor import ExecutionHandle, Executor
from tav.engine.plan import ExecutionPlan
from tav.runner import build_executor, load
from tav.settings import Settings


def run_command(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json, .yaml or .yml).")],
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", help="Trigger payload: JSON text, or @file.json."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the execution result as JSON on stdout.")
    ] = False,
) -> None:
    """Run a workflow file and wait for its result."""
    payload = _parse_input(input)
    try:
        workflow, source = load(file)
    except (WorkflowInvalid, NotFound) as exc:
        _report_invalid(exc)
    result = asyncio.run(_execute(workflow, source, payload, as_json))
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _summary(result)
    raise typer.Exit(0 if result.succeeded else EXIT_FAILED)


async def _execute(
    workflow: Any, source: str | None, payload: Any, as_json: bool
) -> ExecutionResult:
    async with httpx.AsyncClient() as client:
        try:
            executor = build_executor(Settings(), services={httpx.AsyncClient: client})
        except ImportError as exc:
            fail(str(exc))
        try:
            plan = executor.compile(workflow, source=source)
        except WorkflowInvalid as exc:
            _report_invalid(exc)
        return await _watch(executor, plan, payload, show=not as_json)


async def _watch(
    executor: Executor, plan: ExecutionPlan, payload: Any, *, show: bool
) -> ExecutionResult:
    handle = executor.start(plan, payload)
    _cancel_on_signals(handle)
    if show:
        with ProgressView(plan, live=sys.stderr.isatty()) as view:
            async for event in executor.bus.subscribe(handle.execution_id):
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


def _summary(result: ExecutionResult) -> None:
    took = f" in {result.duration_ms:.0f} ms" if result.duration_ms is not None else ""
    message = f": {result.error.message}" if result.error else ""
    typer.echo(f"{result.status.value}{took}{message}", err=True)
    if result.output is not None:
        typer.echo(json.dumps(result.output, indent=2, ensure_ascii=False))


def _parse_input(text: str | None) -> Any:
    if text is None:
        return None
    where = "--input"
    if text.startswith("@"):
        where = text[1:]
        try:
            text = Path(where).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read input file {where}: {exc.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def _report_invalid(exc: WorkflowInvalid | NotFound) -> None:
    if isinstance(exc, WorkflowInvalid):
        where = f" {exc.source}" if exc.source else ""
        lines = [f"error: invalid workflow{where}: {len(exc.problems)} problem(s)"]
        lines += [f"  - {problem}" for problem in exc.problems]
        typer.echo("\n".join(lines), err=True)
        raise typer.Exit(EXIT_INVALID)
    fail(str(exc))
