"""How ``ai.agent`` runs the tool calls of its model's answers, across waits.

The calls of one answer are a ``Batch``: those that need no approval run at once
(``start_batch``); then the node waits, one call at a time, for each call that needs a
person's approval (``tav.nodes.builtin.ai.approvals``) or whose tool workflow's execution
waits itself (``tav.nodes.builtin.ai.tool_runs``), parking with the ``AgentState`` (the
conversation so far, the batch, the tokens used) and running again with it once that is
decided (``resumed_state``); once every call has run or been refused, the model is told
their results (``end_batch``) and asked again.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from tav.core.errors import NodeError
from tav.core.events import utcnow
from tav.core.model import Model
from tav.core.waits import children_request
from tav.nodes.ai import ChatResponse, ToolCall, ToolSpec, Usage
from tav.nodes.builtin.ai.approvals import (
    FormKind,
    ToolApproval,
    approval_request,
    decided_step,
    refusal,
)
from tav.nodes.builtin.ai.mcp_tools import McpBinding, call_mcp_tool
from tav.nodes.builtin.ai.tool_runs import (
    WAITS_KEY,
    ToolWorkflowWaits,
    child_ended,
    run_tool_workflow,
)
from tav.nodes.context import NodeContext

PREVIEW_CHARS = 500
"""Tool results in ``node.progress`` events are cut to this many characters."""
RESULT_CHARS = 20_000
"""Tool results sent back to the model are cut to this many characters."""


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


async def start_batch(
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


async def wait_for_calls(ctx: NodeContext, tools: dict[str, Tool], state: AgentState) -> None:
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
        workflow = None if tool.mcp is not None else tool.workflow
        request, form = approval_request(tool.approval, tool.spec, workflow, call, utcnow())
        step = batch.first + index
        ctx.progress(
            {"step": step, "tool": call.name, "arguments": call.arguments, "approval": "asked"}
        )
        batch.asking, batch.child, batch.form = index, False, form
        await ctx.park(request, state=state.model_dump(mode="json"))


def end_batch(state: AgentState) -> None:
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


async def resumed_state(ctx: NodeContext, tools: dict[str, Tool]) -> AgentState | None:
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
        except ToolWorkflowWaits as waits:  # the agent waits for it (``wait_for_calls``)
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
