"""MCP servers as ``ai.agent`` tool sources: ``{"mcp": "<credential id>"}`` gives the model
every tool of the server, ``{"mcp": ..., "tools": ["a", "b"]}`` those named.

``"approval"`` makes calls of its tools wait for a person's approval, as a workflow tool's
``approval`` does (``tav.nodes.builtin.ai.approvals``, the same options): ``true`` or the
options for every tool it gives, ``{"tools": ["a"], ...}`` for those named only.

Each tool keeps its server's name for the model when providers accept it (letters,
digits, ``_`` and ``-``, at most 64), else a name made from it; a name another tool has
already gets a suffix (``search_2``). Its description and input schema are the server's.
A call goes through the host's MCP clients (``tav.nodes.mcp``); its value for the model
is the tool's structured content, else its text, and an error (the tool's, a timeout, a
server gone) is told to the model as the call's result, as a failing workflow's is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.ai import ToolSpec
from tav.nodes.builtin.ai.approvals import ToolApproval, approval_shorthand
from tav.nodes.builtin.ai.json_schema import object_schema_problems
from tav.nodes.builtin.services.common import credential_of
from tav.nodes.builtin.services.mcp import value_of
from tav.nodes.context import Credential, NodeContext
from tav.nodes.mcp import McpClients, McpTool

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class McpApproval(ToolApproval):
    tools: list[str] | None = Field(
        None, min_length=1, description="Only calls of these tools wait; default: every one's."
    )


class McpToolsRef(Model):
    model_config = ConfigDict(extra="forbid")

    mcp: str = Field(min_length=1, description="An `mcp_server` credential's id.")
    tools: list[str] | None = Field(
        None, min_length=1, description="Only these tools of the server; default: every one."
    )
    approval: Annotated[McpApproval | None, BeforeValidator(approval_shorthand)] = Field(
        None,
        description="Calls of its tools wait for a person's approval: `true`, or a workflow "
        "tool's approval options, with `tools: [names]` for those tools only.",
    )

    def approval_of(self, tool: str) -> ToolApproval | None:
        """The approval calls of ``tool`` (its name on the server) wait for, if any."""
        approval = self.approval
        if approval is None or (approval.tools is not None and tool not in approval.tools):
            return None
        return approval


def mcp_sources(data: Any) -> Any:
    """An agent's params with the ``{"mcp": ...}`` items of ``tools`` moved to
    ``mcp_tools`` (its ``tools`` validate as workflow references, located as before)."""
    tools = data.get("tools") if isinstance(data, dict) else None
    if not isinstance(tools, list):
        return data
    sources = [item for item in tools if isinstance(item, dict) and "mcp" in item]
    if not sources:
        return data
    rest = [item for item in tools if not (isinstance(item, dict) and "mcp" in item)]
    return {**data, "tools": rest, "mcp_tools": [*data.get("mcp_tools", []), *sources]}


@dataclass(frozen=True, slots=True)
class McpBinding:
    """Which server and tool a name the model calls stands for."""

    credential: Credential
    tool: str


async def mcp_tool_specs(
    ctx: NodeContext, ref: McpToolsRef, taken: set[str]
) -> list[tuple[ToolSpec, McpBinding]]:
    """The tools ``ref`` gives the model, named apart from ``taken`` (which grows)."""
    clients = _clients(ctx)
    credential = await credential_of(ctx, ref.mcp, "mcp_server")
    offered = {tool.name: tool for tool in await clients.list_tools(credential)}
    wanted = ref.tools if ref.tools is not None else list(offered)
    missing = [name for name in wanted if name not in offered]
    if missing:
        raise NodeError(
            f"MCP server {credential.name!r} offers no tool {', '.join(map(repr, missing))} "
            f"(it offers: {', '.join(offered) or 'none'})",
            type="tool_not_found",
        )
    approved = ref.approval.tools if ref.approval is not None else None
    unknown = [name for name in approved or () if name not in wanted]
    if unknown:
        raise NodeError(
            f"the approval of MCP server {credential.name!r} names "
            f"{', '.join(map(repr, unknown))}, not among the tools the agent gives the model "
            f"from it ({', '.join(wanted) or 'none'})",
            type="tool_not_found",
        )
    found = []
    for name in wanted:
        model_name = _unique(_model_name(name), taken)
        taken.add(model_name)
        spec = _spec(model_name, offered[name], credential.name)
        found.append((spec, McpBinding(credential, name)))
    return found


async def call_mcp_tool(ctx: NodeContext, binding: McpBinding, arguments: Mapping[str, Any]) -> Any:
    """The value of one call, for the model; ``NodeError`` when it failed."""
    result = await _clients(ctx).call_tool(binding.credential, binding.tool, arguments)
    return value_of(result)


def _clients(ctx: NodeContext) -> McpClients:
    clients = ctx.services.mcp
    if clients is None:
        raise NodeError("this host has no MCP clients", type="mcp_not_allowed")
    return clients


def _spec(name: str, tool: McpTool, server: str) -> ToolSpec:
    schema = tool.input_schema or {"type": "object"}
    problems = object_schema_problems(schema, "input_schema")
    if problems:
        raise NodeError(
            f"tool {tool.name!r} of MCP server {server!r} has an unusable {problems[0]}",
            type="tool_invalid",
        )
    description = tool.description or tool.title or f"{tool.name} (MCP server {server!r})"
    return ToolSpec(name=name, description=description, parameters=schema)


def _model_name(name: str) -> str:
    if _NAME.match(name):
        return name
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")
    return slug[:64] or "tool"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = name[: 64 - len(suffix)] + suffix
    return candidate
