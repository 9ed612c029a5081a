"""Running a workflow without recording it: ``tav run --no-store``, ``tav.run_workflow``
and ``tav.run_workflow_sync``.

The host is the one every process builds (``tav.app.root.build``, with ``record=False``):
the nodes get the same services as on a server — model chains, embeddings, vector
collections, stored files, stored workflows, the service clients — from the data dir
(``TAV_DATA_DIR``, created if missing, as ``tav run`` does). Only the execution itself is
kept in memory: no executions row, no stored events; its result is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tav.app.root import Parts, build
from tav.app.server import prepare
from tav.core.results import ExecutionResult
from tav.core.workflow import Workflow, parse_workflow
from tav.credentials import logs as redacting_logs
from tav.credentials.logs import RedactingFilter
from tav.engine.executor import ExecutionHandle, Executor, RunOptions
from tav.engine.loader import load_workflow_file
from tav.engine.plan import ExecutionPlan
from tav.settings import Settings

WorkflowSource = Workflow | Mapping[str, Any] | str | Path


class Headless:
    """A host over ``parts`` (built with ``record=False``), used ``async with``: closing
    it closes the parts. Its first ``start`` prepares the data dir as a server's start
    does (schema, stored settings, secrets known and kept out of the logs), so a workflow
    refused when it compiles leaves the data dir untouched."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self._prepared: asyncio.Future[None] | None = None
        self._redacting: RedactingFilter | None = None

    def compile(self, workflow: Workflow, *, source: str | None = None) -> ExecutionPlan:
        """The workflow's plan; raises ``WorkflowInvalid`` with every problem (a node
        needing a service the host lacks among them)."""
        return self.parts.plans.compile(workflow.to_document(), source=source)

    async def start(self, plan: ExecutionPlan, input: Any = None) -> ExecutionHandle:
        """Start an execution of ``plan``, with the global variables of the settings and
        of the data dir; returns its handle at once."""
        if self._prepared is None:  # once, whoever starts first
            self._prepared = asyncio.ensure_future(self._prepare())
        await self._prepared
        stored = await self.parts.variables.all()
        options = RunOptions(vars={**self.parts.settings.vars, **stored})
        return self.parts.executor.start(plan, input, options)

    async def _prepare(self) -> None:
        self._redacting = await prepare(self.parts)

    async def __aenter__(self) -> Headless:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.parts.aclose()
        if self._redacting is not None:
            redacting_logs.uninstall(self._redacting)


def headless(settings: Settings | None = None, *, file_refs: bool = True) -> Headless:
    """A host for running workflows unrecorded, from ``settings`` (default: the
    ``TAV_*`` environment). ``file_refs``: sub-workflow refs may be file paths, relative to
    the calling workflow's file (stored workflow ids always work)."""
    return Headless(build(settings or Settings(), file_refs=file_refs, record=False))


def load(workflow: WorkflowSource) -> tuple[Workflow, str | None]:
    """A workflow from a model, a document dict, or a file path."""
    if isinstance(workflow, Workflow):
        return workflow, None
    if isinstance(workflow, Mapping):
        return parse_workflow(dict(workflow), structure=False), None
    path = Path(workflow)
    return load_workflow_file(path), str(path.resolve())


async def run_workflow(
    workflow: WorkflowSource,
    input: Any = None,
    *,
    settings: Settings | None = None,
    executor: Executor | None = None,
) -> ExecutionResult:
    """Run a workflow to its end and return its result; nothing about it is stored.

    The nodes have the services a server gives them, from the data dir of ``settings``
    (default: the ``TAV_*`` environment). ``executor``: run on that one instead (a host
    that builds its own). Raises ``WorkflowInvalid`` (listing every problem) if it cannot
    run."""
    document, source = load(workflow)
    if executor is not None:
        return await executor.execute(executor.compile(document, source=source), input)
    async with headless(settings) as host:
        plan = host.compile(document, source=source)
        return await (await host.start(plan, input)).wait()


def run_workflow_sync(
    workflow: WorkflowSource, input: Any = None, *, settings: Settings | None = None
) -> ExecutionResult:
    """``run_workflow`` for code that is not async."""
    return asyncio.run(run_workflow(workflow, input, settings=settings))
