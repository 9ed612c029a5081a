"""Workflows offered as tools: which are offered, and calling one (the MCP server's use
cases; ``tav.api.mcp`` translates them to the protocol).

A workflow is offered when its document says ``"mcp": {"name": ...}``; the tool's
description is the workflow's, its arguments the workflow's ``input_schema``. Names are
unique among the offered workflows: a save that would offer a name another workflow
offers is refused (``ToolNameTaken``). Two saves racing past that check can still leave
two workflows with one name; listing then offers the older one, and logs the other.

A call checks the arguments against the input schema (``ArgumentsInvalid``, naming the
field), starts the workflow as ``POST /workflows/{id}/run`` does (in queue mode too: the
execution is committed, published, and waited for), reports each node that starts or
settles, and waits for the execution to come to rest, for at most ``timeout_s``: it
succeeded, failed, or waits for a person or a call (``core.wait``) and is parked, which
ends the call at once with the links that decide it. A call whose run takes longer ends
saying so; the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tav.core.errors import Conflict, InputInvalid, NotFound, Problem, WorkflowInvalid
from tav.core.modes import ExecutionMode
from tav.core.roles import UserRef
from tav.core.states import ExecutionStatus, NodeStatus
from tav.storage.executions import ExecutionRecord
from tav.storage.workflows import StoredWorkflow, WorkflowRepository

if TYPE_CHECKING:
    from tav.app.executions import Executions
    from tav.app.waits import Waits

logger = logging.getLogger("tav.app")

ANY_OBJECT: dict[str, Any] = {"type": "object"}
"""The arguments of a workflow that declares no input schema: any object."""
PROGRESS_EVENTS = frozenset({"node.started", "node.completed", "node.failed"})
FOLLOW_GRACE_S = 1.0
"""How long a call that has its result waits for the reports of its last events."""
MAX_NESTED = 16
"""How deep the waits of sub-workflow executions are looked for (as deep as they nest)."""

StepReport = Callable[["Step"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Tool:
    """A workflow as a tool."""

    name: str
    workflow_id: str
    title: str
    """The workflow's name."""
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """A node of a running call that started or settled: ``settled`` of ``total`` nodes
    have settled so far."""

    node_id: str
    event: str
    settled: int
    total: int

    @property
    def message(self) -> str:
        verb = {"node.started": "started", "node.completed": "finished"}.get(self.event, "failed")
        return f"node '{self.node_id}' {verb}"


@dataclass(frozen=True, slots=True)
class Waiting:
    """An open wait of a parked call: what it waits for, and the link that decides it."""

    node_id: str
    mode: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: the execution at rest (``status``), or still running when the
    call's time was up (``timed_out``)."""

    execution_id: str
    status: ExecutionStatus
    output: Any = None
    error: str | None = None
    """A failure: what failed, naming the node."""
    failed_node: str | None = None
    waits: list[Waiting] = field(default_factory=list)
    timed_out: bool = False


class ToolNameTaken(Conflict):
    """Another workflow offers a tool of that name."""

    def __init__(self, name: str, other: StoredWorkflow) -> None:
        super().__init__(
            f"the MCP tool name {name!r} is offered by the workflow {other.name!r} already "
            "(tool names are unique among the workflows offered)",
            {"field": "mcp.name", "workflow_id": other.id},
        )


class ArgumentsInvalid(InputInvalid):
    """A call's arguments that the workflow's input schema refuses; ``field`` is the
    dotted path of the first that is wrong ("" for the arguments as a whole)."""

    def __init__(self, field: str, message: str) -> None:
        where = f"argument {field!r}" if field else "the arguments"
        super().__init__(f"{where}: {message}")
        self.field = field


def tool_name(document: Mapping[str, Any]) -> str | None:
    """The tool name a workflow document offers, if any (the document is valid)."""
    mcp = document.get("mcp")
    return mcp.get("name") if isinstance(mcp, Mapping) else None


def check_input_schema(document: Mapping[str, Any]) -> None:
    """``WorkflowInvalid`` unless the document's ``input_schema`` (if any) is a JSON
    Schema of an object, as tool arguments must be."""
    schema = document.get("input_schema")
    if schema is None:
        return
    from tav.nodes.builtin.ai.json_schema import object_schema_problems

    problems = object_schema_problems(schema, "input_schema")
    if problems:
        found = [Problem(p.partition(": ")[2], field=p.partition(": ")[0]) for p in problems]
        raise WorkflowInvalid(found)


async def check_tool_name(
    workflows: WorkflowRepository, workflow_id: str | None, document: Mapping[str, Any]
) -> None:
    """``ToolNameTaken`` if another workflow offers the tool name ``document`` offers."""
    name = tool_name(document)
    if name is None:
        return
    for other in await workflows.offered_tools():
        if other.id != workflow_id and tool_name(other.document) == name:
            raise ToolNameTaken(name, other)


class Tools:
    def __init__(
        self,
        workflows: WorkflowRepository,
        executions: Executions,
        waits: Waits | None,
        *,
        timeout_s: float,
    ) -> None:
        """``timeout_s``: how long a call waits for its run to come to rest."""
        self.workflows = workflows
        self.executions = executions
        self.waits = waits
        self.timeout_s = timeout_s

    async def offered(self) -> list[Tool]:
        """Every workflow offered as a tool, by tool name (the oldest where two clash)."""
        tools: dict[str, Tool] = {}
        for workflow in await self.workflows.offered_tools():
            tool = _tool(workflow)
            if tool is None:
                continue
            if tool.name in tools:
                logger.warning(
                    "MCP tool %r: offered by workflows %s and %s; only the first is offered",
                    tool.name,
                    tools[tool.name].workflow_id,
                    workflow.id,
                )
                continue
            tools[tool.name] = tool
        return sorted(tools.values(), key=lambda tool: tool.name)

    async def find(self, name: str) -> Tool:
        for tool in await self.offered():
            if tool.name == name:
                return tool
        raise NotFound(f"no workflow is offered as the tool {name!r}")

    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        by: UserRef | None = None,
        report: StepReport | None = None,
    ) -> Outcome:
        """Run the tool's workflow with ``arguments`` as its input; ``report`` hears of
        each node that starts or settles."""
        tool = await self.find(name)
        given = dict(arguments or {})
        check_arguments(tool.input_schema, given)
        started = await self.executions.start(
            tool.workflow_id, given, mode=ExecutionMode.MCP, started_by=by
        )
        await started.recorded
        execution_id = started.handle.execution_id
        following = None
        if report is not None:
            workflow = await self.workflows.get(tool.workflow_id)
            total = len(workflow.document.get("nodes", [])) if workflow else 0
            following = asyncio.ensure_future(self._follow(execution_id, total, report))
        try:
            async with asyncio.timeout(self.timeout_s):
                record = await self.executions.finished(started.handle, started)
                if following is not None:  # its last reports, up to the final event
                    await asyncio.wait([following], timeout=FOLLOW_GRACE_S)
        except TimeoutError:
            return Outcome(execution_id, ExecutionStatus.RUNNING, timed_out=True)
        finally:
            if following is not None:
                following.cancel()
                with suppress(asyncio.CancelledError):
                    await following
        return await self._outcome(record)

    async def _follow(self, execution_id: str, total: int, report: StepReport) -> None:
        settled = 0
        async with aclosing(self.executions.watch(execution_id)) as events:
            async for event in events:
                kind = event.get("type")
                if kind not in PROGRESS_EVENTS:
                    continue
                settled += kind != "node.started"
                await report(Step(str(event.get("node_id")), str(kind), settled, total))

    async def _outcome(self, record: ExecutionRecord) -> Outcome:
        execution_id, status = record.execution_id, record.status
        if status is ExecutionStatus.WAITING:
            return Outcome(execution_id, status, waits=await self._waits(record))
        if status is ExecutionStatus.SUCCEEDED:
            return Outcome(execution_id, status, output=record.output)
        failed = next((n for n in record.nodes.values() if n.status is NodeStatus.FAILED), None)
        if failed is not None and failed.error is not None:
            error = f"node '{failed.node_id}' failed: {failed.error.message}"
            return Outcome(execution_id, status, error=error, failed_node=failed.node_id)
        reason = record.error.message if record.error else "no reason was recorded"
        return Outcome(execution_id, status, error=f"the run {status}: {reason}")

    async def _waits(self, record: ExecutionRecord) -> list[Waiting]:
        return await self._open_waits(record.execution_id)

    async def _open_waits(self, execution_id: str, depth: int = 0) -> list[Waiting]:
        """The open waits of the execution, those of the sub-workflow executions its nodes
        wait for in their place (their links decide; nobody decides the node's own)."""
        if self.waits is None:
            return []
        found = (await self.waits.of([execution_id])).get(execution_id, [])
        waits = []
        for wait in found:
            if wait.status != "open":
                continue
            children = wait.request.children
            if children is not None:
                for child_id in children.executions if depth < MAX_NESTED else ():
                    waits += await self._open_waits(child_id, depth + 1)
                continue
            waits.append(
                Waiting(
                    node_id=wait.node_id,
                    mode=str(wait.request.mode),
                    title=wait.request.title or "",
                    url=self.waits.url(execution_id, wait.node_id),
                )
            )
        return waits


def _tool(workflow: StoredWorkflow) -> Tool | None:
    name = tool_name(workflow.document)
    if name is None:
        return None
    return Tool(
        name=name,
        workflow_id=workflow.id,
        title=workflow.name,
        description=workflow.description,
        input_schema=workflow.document.get("input_schema") or ANY_OBJECT,
    )


def check_arguments(schema: Mapping[str, Any], arguments: dict[str, Any]) -> None:
    """``ArgumentsInvalid`` naming the first field the schema refuses, if any."""
    from jsonschema import exceptions, validators

    validator = validators.validator_for(schema)(schema)
    error = exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [n for n in error.validator_value if n not in error.instance]
        if missing:
            raise ArgumentsInvalid(".".join([*path, str(missing[0])]), "is required")
    raise ArgumentsInvalid(".".join(path), error.message)
