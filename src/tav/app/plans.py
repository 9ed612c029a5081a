"""Compiled plans of workflow documents, kept for the stored workflows that run again.

A stored workflow's plan is kept under its source (``workflow:<id>``) and checked
against the document before it is reused, so a workflow run again and again is compiled
once per version. Compiling takes about half a millisecond per template (a second for a
document with 2,000 of them), so the asynchronous forms compile on a worker thread.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from tav.core.errors import Problem, WorkflowInvalid
from tav.core.workflow import Workflow, parse_workflow
from tav.engine.plan import ExecutionPlan

PLAN_CACHE_SIZE = 256


class Compiler(Protocol):
    """What compiles a workflow against the installed node types (``Executor``)."""

    def compile(self, workflow: Workflow, *, source: str | None = None) -> ExecutionPlan: ...


class RefCheck(Protocol):
    """The sub-workflow refs a host refuses (``StoredWorkflowLoader``)."""

    def problems(self, workflow: Workflow) -> list[Problem]: ...


class Plans:
    def __init__(self, compiler: Compiler, refs: RefCheck | None = None) -> None:
        self.compiler = compiler
        self.refs = refs
        self._kept: OrderedDict[str, tuple[dict[str, Any], ExecutionPlan]] = OrderedDict()

    def compile(self, document: Mapping[str, Any], *, source: str | None = None) -> ExecutionPlan:
        """The document's plan; raises ``WorkflowInvalid`` with every problem."""
        plan = self._kept_plan(document, source)
        if plan is None:
            plan = self._compiled(document, source)
            self._keep(document, source, plan)
        return plan

    async def compile_off_loop(
        self, document: Mapping[str, Any], *, source: str | None = None
    ) -> ExecutionPlan:
        """``compile`` on a worker thread, unless the plan is kept."""
        plan = self._kept_plan(document, source)
        if plan is None:
            plan = await asyncio.to_thread(self._compiled, document, source)
            self._keep(document, source, plan)
        return plan

    def _kept_plan(self, document: Mapping[str, Any], source: str | None) -> ExecutionPlan | None:
        kept = self._kept.get(source) if source else None
        if kept is None or kept[0] != document:
            return None
        self._kept.move_to_end(source)  # type: ignore[arg-type]
        return kept[1]

    def _compiled(self, document: Mapping[str, Any], source: str | None) -> ExecutionPlan:
        workflow = parse_workflow(dict(document), structure=False)
        plan = self.compiler.compile(workflow, source=source)
        if self.refs is not None and (problems := self.refs.problems(workflow)):
            raise WorkflowInvalid(problems, source=source)
        return plan

    def _keep(self, document: Mapping[str, Any], source: str | None, plan: ExecutionPlan) -> None:
        if source and source.startswith("workflow:"):
            self._kept[source] = (dict(document), plan)
            if len(self._kept) > PLAN_CACHE_SIZE:
                self._kept.popitem(last=False)
