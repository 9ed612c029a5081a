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

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from tav.core.errors import NodeError, NotFound, WorkflowInvalid
from tav.core.model import Model
from tav.nodes.ai import (
    ChatRequest,
    ChatResponse,
    ToolSpec,
    Usage,
    WorkflowDescription,
)
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.agent_calls import (
    AgentState,
    Tool,
    end_batch,
    resumed_state,
    start_batch,
    wait_for_calls,
)
from tav.nodes.builtin.ai.approvals import (
    ApprovalOption,
)
from tav.nodes.builtin.ai.conversation import ConversationParams, conversation
from tav.nodes.builtin.ai.json_schema import object_schema_problems
from tav.nodes.builtin.ai.mcp_tools import (
    McpToolsRef,
    mcp_sources,
    mcp_tool_specs,
)
from tav.nodes.capabilities import LLMCapability
from tav.nodes.context import NodeContext
from tav.nodes.host import WORKFLOWS

TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"
"""What every provider accepts as a function name."""


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
        "adds every tool of an MCP server, `{mcp, tools: [names]}` those named; its "
        "`approval` (the same, with `tools: [names]` for some of them only) makes their "
        "calls wait for a person's approval.",
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
        _check_approvals_can_wait(ctx, tools)
        state = await resumed_state(ctx, tools)
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
                state.batch = await start_batch(ctx, tools, response, len(state.steps) + 1)
            await wait_for_calls(ctx, tools, state)
            end_batch(state)


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
            tools[spec.name] = Tool("", spec, source.approval_of(binding.tool), mcp=binding)
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


def _check_approvals_can_wait(ctx: NodeContext, tools: dict[str, Tool]) -> None:
    """Before the model is asked: a tool that needs approval needs a host that keeps
    waits."""
    needing = [name for name, tool in tools.items() if tool.approval is not None]
    if needing and ctx.services.waits is None:
        raise NodeError(
            f"tool {needing[0]!r} needs a person's approval, and this host keeps no waits "
            "(run it under `tav serve`, or `tav run` with a data dir)",
            type="service_unavailable",
        )


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
