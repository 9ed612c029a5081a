"""``mcp.call_tool``: one tool of an MCP server, called with templated arguments.

The server is an ``mcp_server`` credential; the host keeps one connection per server and
reuses it across runs (``tav.nodes.mcp``). The node's output is the tool's structured
content when it gives one, else its text; images and audio the tool returns are stored as
files of the execution and go out on ``media``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.services.common import credential_field, credential_of
from tav.nodes.context import NodeContext
from tav.nodes.host import MCP
from tav.nodes.mcp import McpResult

MCP_TOOL: dict[str, Any] = {"format": "mcp-tool", "x-credential-param": "credential"}
"""Marks a param naming a tool of the server that the param ``credential`` names: the
editor offers the server's tools (``GET /api/v1/credentials/{id}/mcp-tools``)."""
_MEDIA = {"image", "audio"}


class McpCallToolParams(Model):
    model_config = ConfigDict(extra="forbid")

    credential: str = credential_field("mcp_server")
    tool: str = Field(
        min_length=1,
        description="The tool's name, as the server lists it.",
        json_schema_extra=MCP_TOOL,
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="The tool's arguments, as its input schema describes them; values may be "
        "templates (`{{ input.city }}`).",
    )


class McpCallTool(Node):
    """Calls one tool of an MCP server (an `mcp_server` credential: streamable HTTP, or a
    command run in the sandbox) with the arguments given. Outputs the tool's structured
    content, else its text; images and audio it returns are stored as files (`media`). A
    tool's error fails the node with the server's message (`mcp_tool_error`); no answer
    within the credential's `call_timeout_s` is `mcp_timeout`."""

    spec = NodeSpec(type="mcp.call_tool", title="MCP tool", category="services", icon="plug")
    Params = McpCallToolParams
    requires = (MCP,)
    outputs = {
        "output": Port("The tool's structured content, else its text (blocks joined)."),
        "media": Port("Files of the images and audio the tool returned (when it did)."),
    }
    pool = "http"

    async def run(self, params: McpCallToolParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await credential_of(ctx, params.credential, "mcp_server")
        result = await ctx.service(MCP).call_tool(credential, params.tool, params.arguments)
        outputs: dict[str, Any] = {"output": value_of(result)}
        media = await _stored_media(ctx, params.tool, result)
        if media:
            outputs["media"] = media
        return outputs


def value_of(result: McpResult) -> Any:
    """What a tool answered, as a value: its structured content, else its text, else its
    blocks."""
    if result.structured is not None:
        return result.structured
    if any(block.get("type") == "text" for block in result.content):
        return result.text
    return [block for block in result.content if block.get("type") not in _MEDIA]


async def _stored_media(ctx: NodeContext, tool: str, result: McpResult) -> list[dict[str, Any]]:
    files = ctx.services.files
    blocks = [block for block in result.content if block.get("type") in _MEDIA]
    if files is None or not blocks:
        return []
    stored = []
    for index, block in enumerate(blocks, 1):
        try:
            data = base64.b64decode(str(block.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise NodeError(
                f"tool {tool!r} returned {block['type']} that is not base64",
                type="mcp_protocol_error",
            ) from None
        mime_type = str(block.get("mimeType") or "application/octet-stream")
        extension = mime_type.rpartition("/")[2].split("+")[0] or "bin"
        name = f"{tool}-{index}.{extension}"
        stored.append(
            await files.save(data, name=name, mime_type=mime_type, execution_id=ctx.execution_id)
        )
    return stored
