"""``ai.agent``: a model that calls other stored workflows as tools until it can answer.

Each tool is a stored workflow: the model is told its name, description and input schema
(``WorkflowCatalog``), and a call runs it with the call's arguments as its trigger payload
(``ctx.run_workflow``, so it is an execution of its own, linked to this one). The loop is
the plain one — ask, run the calls the answer asks for, append their results, ask again —
bounded by ``max_steps`` rounds of tool calls.

Decisions:

- A tool workflow that fails is reported to the model as the tool's result (an error
  text): the model may retry with other arguments, try another tool or explain. Only the
  model's side failing (every provider down) or the configuration (an unknown tool
  workflow) fails the node.
- When the model still calls tools after ``max_steps`` rounds, the node fails
  (``agent_max_steps``) rather than forcing an answer without tools: a forced answer
  tends to read as confident while missing what the next call would have found, and a
  failure says plainly that the limit, not the task, ended the run.
- Tool calls the model makes in one answer run concurrently: they are independent by
  construction (the model had none of their results when it asked).
- A tool marked ``approval`` runs only once a person approved the call
  (``tav.nodes.builtin.ai.approvals``). The calls of one answer that need no approval run
  first, at once; then the execution waits for each call that does, one wait per call in
  the order the model made them (each its own form and decision: a person may allow one
  and refuse another). The node parks with the conversation as its state (``ctx.park``)
  and runs again once a call is decided (``ctx.resumed``): it goes on from there, without
  asking the model again for what it answered or running again the calls that ran.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from tav.core.errors import NodeError, NotFound, WorkflowInvalid
from tav.core.events import utcnow
from tav.core.model import Model
from tav.core.waits import children_request
from tav.nodes.ai import (
    ChatRequest,
    ChatResponse,
    ToolCall,
    ToolSpec,
    Usage,
    WorkflowDescription,
)
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.approvals import (
    ApprovalOption,
    FormKind,
    ToolApproval,
    approval_request,
    decided_step,
    refusal,
)
from tav.nodes.builtin.ai.conversation import ConversationParams, conversation
from tav.nodes.builtin.ai.json_schema import object_schema_problems
from tav.nodes.builtin.ai.mcp_tools import (
    McpBinding,
    McpToolsRef,
    call_mcp_tool,
    mcp_sources,
    mcp_tool_specs,
)
from tav.nodes.builtin.ai.tool_runs import (
    WAITS_KEY,
    ToolWorkflowWaits,
    child_ended,
    run_tool_workflow,
)
from tav.nodes.capabilities import LLMCapability
from tav.nodes.context import NodeContext
from tav.nodes.host import WORKFLOWS

TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"
"""What every provider accepts as a function name."""
PREVIEW_CHARS = 500
"""Tool results in ``node.progress`` events are cut to this many characters."""
RESULT_CHARS = 20_000
"""Tool results sent back to the model are cut to this many characters."""


class ToolRef(Model):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1, description="A stored workflow id.")
    name: str | None = Field(
        None,
        pattern=TOOL_NAME,
        description="The tool's name for the model; default: made from the workflow's name.",
    )
    description: str | None = Field(
        None, description="What the tool does, for the model; default: the workflow's."
    )
    approval: ApprovalOption = Field(
        None,
        description="Each call waits for a person's approval before it runs: `true`, or "
        "`{approvers, approver_roles, anyone_with_link, approvals, timeout, on_timeout}` "
        "as core.wait's approval has them (`on_timeout`: `fail` the node, or `reject` the "
        "call). The person sees the tool, its description and the model's arguments in "
        "a form built from the tool's input schema, and may edit them before approving; "
        "a rejection (with its comment) is told to the model as the call's result.",
    )


def _tool_ref(value: Any) -> Any:
    return {"workflow": value} if isinstance(value, str) else value


ToolItem = Annotated[ToolRef, BeforeValidator(_tool_ref)]
"""A stored workflow id is short for ``{"workflow": id}``."""


class AgentParams(ConversationParams):
    tools: list[ToolItem] = Field(
        default_factory=list,
        description="Stored workflows the model may call: an id, or `{workflow, name, "
        "description, approval}`. A call's arguments are the workflow's trigger payload, "
        "its output the result. A tool with `approval` runs only once a person approved "
        "the call (the execution waits meanwhile, holding nothing). `{mcp: credential id}` "
        "adds every tool of an MCP server, `{mcp, tools: [names]}` those named.",
    )
    max_steps: int = Field(
        8,
        ge=1,
        le=100,
        description="Rounds of tool calls the model may make; still calling tools after "
        "that fails the node.",
    )

    @field_validator("tools")
    @classmethod
    def _distinct_names(cls, tools: list[ToolRef]) -> list[ToolRef]:
        names = [t.name for t in tools if t.name]
        if len(set(names)) != len(names):
            raise ValueError("tool names must be unique")
        return tools

    mcp_tools: SkipJsonSchema[list[McpToolsRef]] = Field(default_factory=list)
    """The ``{"mcp": ...}`` items of ``tools`` (``mcp_sources``)."""
    _mcp_sources = model_validator(mode="before")(mcp_sources)


class StepApproval(Model):
    decision: Literal["approve", "reject", "timeout"]
    by: str | None = Field(None, description="The email of who decided, if known.")
    comment: str = ""
    asked: dict[str, Any] | None = Field(
        None, description="The model's arguments, when the person changed them."
    )


class AgentStep(Model):
    tool: str = Field(description="The tool's name, as the model called it.")
    arguments: dict[str, Any] = Field(description="The arguments it ran (or would run) with.")
    output: Any = Field(None, description="The tool workflow's output, when it succeeded.")
    error: str | None = Field(None, description="Why the call failed, when it did.")
    approval: StepApproval | None = Field(
        None, description="For a tool that needs approval: what a person decided."
    )


class AgentOutput(Model):
    answer: str
    steps: list[AgentStep] = Field(description="Every tool call, in order.")
    usage: Usage = Field(description="Tokens of every model call, summed.")
    provider: str = Field(description="Credential kind of the provider of the last answer.")
    model: str


@dataclass(frozen=True, slots=True)
class Tool:
    workflow: str
    spec: ToolSpec
    approval: ToolApproval | None = None
    mcp: McpBinding | None = None
    """A tool of an MCP server rather than a workflow."""


class Batch(Model):
    """The tool calls of one answer, while they run and are decided."""

    assistant: dict[str, Any]
    """The model's answer, as the conversation keeps it."""
    calls: list[ToolCall]
    first: int
    """The step number of its first call."""
    done: dict[int, dict[str, Any]] = Field(default_factory=dict)
    """The step of each call that has run or been decided, by its index."""
    asking: int | None = None
    """The call the node waits for: a person's approval of it, or (``child``) the end of
    its tool workflow's execution, which waits itself."""
    child: bool = False
    form: FormKind = "none"
    """How that approval's form edits the call's arguments."""


class AgentState(Model):
    """Where the agent is: what it parks with while a call waits for approval."""

    messages: list[dict[str, Any]]
    """The conversation so far, but for the batch under way."""
    steps: list[dict[str, Any]] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    rounds: int = 0
    batch: Batch | None = None


class Agent(LLMCapability, Node):
    """Answers with the help of tools that are other stored workflows: the model calls
    them (each call runs the workflow with the call's arguments) until it answers without
    calling one. Each call is reported as it happens; the output is `{answer, steps,
    usage, provider, model}`, `steps` listing every call with its output or error. A
    tool marked `approval` runs only once a person has approved the call (the execution
    waits meanwhile, and the agent goes on where it stopped); see
    docs/reference/waits.md#agents-tool-approvals."""

    spec = NodeSpec(type="ai.agent", title="Agent", category="ai", icon="bot")
    Params = AgentParams
    requires = (WORKFLOWS,)
    outputs = {
        "output": Port(
            "`{answer, steps: [{tool, arguments, output|error, approval}], usage, provider, "
            "model}`.",
            schema=AgentOutput,
        )
    }

    async def run(self, params: AgentParams, input: Any, ctx: NodeContext) -> Outputs:
        tools = await resolve_tools(ctx, params.tools, params.mcp_tools)
        state = await _resumed(ctx, tools)
        if state is None:
            state = AgentState(messages=conversation(params, input))
        request = ChatRequest(
            models=params.models,
            messages=state.messages,
            temperature=params.temperature,
            stream=False,
            tools=[tool.spec for tool in tools.values()],
        )
        while True:
            if state.batch is None:
                request = request.model_copy(update={"messages": state.messages})
                response = await self.chat_models(ctx).chat(ctx, request)
                state.usage = _added(state.usage, response.usage)
                if not response.tool_calls:
                    return {"output": _result(response, state.steps, state.usage)}
                if state.rounds == params.max_steps:
                    raise _too_many_steps(params.max_steps, state.steps)
                state.rounds += 1
                state.batch = await _start_batch(ctx, tools, response, len(state.steps) + 1)
            await _ask_approvals(ctx, tools, state)
            _end_batch(state)


async def resolve_tools(
    ctx: NodeContext, refs: list[ToolRef], mcp: list[McpToolsRef] | None = None
) -> dict[str, Tool]:
    """The tools by the name the model calls them, described by the workflow catalog,
    then those of the MCP servers ``mcp`` names."""
    catalog = ctx.service(WORKFLOWS)
    tools: dict[str, Tool] = {}
    named = {ref.name for ref in refs if ref.name}
    for source in mcp or ():
        for spec, binding in await mcp_tool_specs(ctx, source, named | set(tools)):
            tools[spec.name] = Tool("", spec, mcp=binding)
    for ref in refs:
        try:
            described = await catalog.describe(ref.workflow)
        except NotFound as exc:
            raise NodeError(f"tool {ref.workflow!r}: {exc}", type="tool_not_found") from None
        except WorkflowInvalid as exc:
            raise NodeError(f"tool {ref.workflow!r}: {exc}", type="tool_invalid") from None
        name = ref.name or _unique(tool_name(described.name), named | set(tools))
        tools[name] = Tool(ref.workflow, _tool_spec(name, ref, described), ref.approval)
    return tools


def tool_name(workflow_name: str) -> str:
    """A function name providers accept, made from a workflow's name."""
    slug = re.sub(r"[^a-z0-9_-]+", "_", workflow_name.lower()).strip("_-")
    return slug[:64] or "workflow"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = name[: 64 - len(suffix)] + suffix
    return candidate


def _tool_spec(name: str, ref: ToolRef, described: WorkflowDescription) -> ToolSpec:
    schema = described.input_schema or {"type": "object"}
    problems = object_schema_problems(schema, "input_schema")
    if problems:
        raise NodeError(
            f"tool {name!r}: workflow {described.name!r} has an unusable {problems[0]}",
            type="tool_invalid",
        )
    description = ref.description or described.description or f"Runs {described.name!r}."
    return ToolSpec(name=name, description=description, parameters=schema)


async def _start_batch(
    ctx: NodeContext, tools: dict[str, Tool], response: ChatResponse, first: int
) -> Batch:
    """The answer's calls, those that need no approval run already."""
    batch = Batch(assistant=_assistant(response), calls=response.tool_calls, first=first)
    free = [
        index
        for index, call in enumerate(batch.calls)
        if (tool := tools.get(call.name)) is None or tool.approval is None
    ]
    async with asyncio.TaskGroup() as group:
        tasks = {
            index: group.create_task(_call(ctx, tools, batch.calls[index], first + index))
            for index in free
        }
    batch.done = {index: task.result() for index, task in tasks.items()}
    return batch


async def _ask_approvals(ctx: NodeContext, tools: dict[str, Tool], state: AgentState) -> None:
    """Park on the first call of the batch still to be decided, or whose tool workflow's
    execution waits, if any (one at a time)."""
    batch = state.batch
    assert batch is not None
    for index, call in enumerate(batch.calls):
        done = batch.done.get(index)
        if done is not None and WAITS_KEY in done:
            batch.asking, batch.child = index, True
            request = children_request({done[WAITS_KEY]: 0}, call.name)
            await ctx.park(request, state=state.model_dump(mode="json"))
        if done is not None:
            continue
        tool = tools.get(call.name)
        assert tool is not None
        assert tool.approval is not None
        request, form = approval_request(tool.approval, tool.spec, tool.workflow, call, utcnow())
        step = batch.first + index
        ctx.progress(
            {"step": step, "tool": call.name, "arguments": call.arguments, "approval": "asked"}
        )
        batch.asking, batch.child, batch.form = index, False, form
        await ctx.park(request, state=state.model_dump(mode="json"))


def _end_batch(state: AgentState) -> None:
    """Every call of the batch has run or been decided: the model is told their results."""
    batch = state.batch
    assert batch is not None
    done = [batch.done[index] for index in range(len(batch.calls))]
    state.steps.extend(done)
    state.messages = [
        *state.messages,
        batch.assistant,
        *map(_tool_message, batch.calls, done),
    ]
    state.batch = None


async def _resumed(ctx: NodeContext, tools: dict[str, Tool]) -> AgentState | None:
    """Where the agent stopped, the call it waited for decided (run, if approved); ``None``
    on a first run."""
    resumed = ctx.resumed
    if resumed is None:
        return None
    state = AgentState.model_validate(resumed.state)
    ctx.add_usage(state.usage.counts())  # the model calls of the runs before this one
    batch = state.batch
    assert batch is not None
    assert batch.asking is not None
    outcome = resumed.outcome
    if batch.child:  # the execution of its tool workflow has ended
        index = batch.asking
        step = batch.done[index] = child_ended(batch.done[index], outcome)
        shown = "error" if "error" in step else "output"
        number = batch.first + index
        ctx.progress({"step": number, "tool": step["tool"], shown: _preview(step[shown])})
        batch.asking, batch.child = None, False
        return state
    if outcome.error is not None:
        raise NodeError(
            f"the approval of a call of tool {batch.calls[batch.asking].name!r}: "
            f"{outcome.error.message}",
            type=outcome.error.type,
        )
    index, call = batch.asking, batch.calls[batch.asking]
    step, arguments = decided_step(call, outcome, batch.form)
    number = batch.first + index
    if arguments is not None:
        run = call.model_copy(update={"arguments": arguments})
        step = {**step, **await _call(ctx, tools, run, number)}
    else:
        shown = "approval" if "error" not in step else "error"
        ctx.progress({"step": number, "tool": call.name, shown: _preview(step.get(shown))})
    batch.done[index] = step
    batch.asking = None
    return state


async def _call(
    ctx: NodeContext, tools: dict[str, Tool], call: ToolCall, step: int
) -> dict[str, Any]:
    tool = tools.get(call.name)
    ctx.progress({"step": step, "tool": call.name, "arguments": call.arguments})
    done: dict[str, Any] = {"tool": call.name, "arguments": call.arguments}
    if tool is None:
        known = ", ".join(tools) or "none"
        done["error"] = f"there is no tool named {call.name!r} (tools: {known})"
    else:
        try:
            if tool.mcp is not None:
                done["output"] = await call_mcp_tool(ctx, tool.mcp, call.arguments)
            else:
                done["output"] = await run_tool_workflow(ctx, tool.workflow, call.arguments)
        except NodeError as exc:
            done["error"] = exc.message
        except ToolWorkflowWaits as waits:  # the agent waits for it (``_ask_approvals``)
            done[WAITS_KEY] = waits.execution_id
            ctx.progress({"step": step, "tool": call.name, "waits": waits.execution_id})
            return done
    outcome = "output" if "output" in done else "error"
    ctx.progress({"step": step, "tool": call.name, outcome: _preview(done[outcome])})
    return done


def _assistant(response: ChatResponse) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": response.text,
        "tool_calls": [call.model_dump() for call in response.tool_calls],
    }


def _tool_message(call: ToolCall, step: dict[str, Any]) -> dict[str, Any]:
    content = refusal(step)
    if content is None:
        content = f"Error: {step['error']}" if "error" in step else _as_text(step["output"])
    if len(content) > RESULT_CHARS:
        content = content[:RESULT_CHARS] + f"… (cut; {len(content)} characters in all)"
    return {"role": "tool", "tool_call_id": call.id, "content": content}


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _preview(value: Any) -> Any:
    text = _as_text(value)
    if len(text) <= PREVIEW_CHARS:
        return value
    return text[:PREVIEW_CHARS] + "…"


def _added(total: Usage, more: Usage) -> Usage:
    return Usage(
        input_tokens=total.input_tokens + more.input_tokens,
        output_tokens=total.output_tokens + more.output_tokens,
        total_tokens=total.total_tokens + more.total_tokens,
    )


def _result(response: ChatResponse, steps: list[dict[str, Any]], usage: Usage) -> dict[str, Any]:
    return {
        "answer": response.text,
        "steps": steps,
        "usage": usage.counts(),
        "provider": response.provider,
        "model": response.model,
    }


def _too_many_steps(max_steps: int, steps: list[dict[str, Any]]) -> NodeError:
    called = ", ".join(step["tool"] for step in steps)
    return NodeError(
        f"the model was still calling tools after {max_steps} round(s) of tool calls "
        f"({len(steps)} call(s): {called}); raise max_steps or narrow the task",
        type="agent_max_steps",
    )
