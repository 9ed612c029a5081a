"""What a host supplies to use MCP servers' tools (``HostServices.mcp``): ``McpClients``.

An MCP server is an ``mcp_server`` credential (``tav.credentials.kinds``): a streamable
HTTP URL, or a command run over its standard input and output (in the code sandbox). The
``mcp.call_tool`` node and the ``ai.agent`` node's MCP tool sources reveal the credential
(so its secrets are redacted from then on) and hand it to the host's clients, which keep
one connection per credential and reuse it across runs (``tav.services.mcp``).

The clients raise ``NodeError`` with one of these types:

- ``mcp_tool_error``: the server answered the call with an error (its message is the
  node error's), or refused it (an unknown tool, arguments its schema refuses);
- ``mcp_timeout``: no answer within the credential's ``call_timeout_s`` (retryable);
- ``mcp_protocol_error``: the server's answer is not MCP (garbage, a wrong shape);
- ``mcp_unavailable``: the server cannot be reached or started, or its process ended
  (retryable: the next call connects, or starts it, again);
- ``mcp_not_allowed``: this host runs no commands (no sandbox) or refuses the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tav.nodes.context import Credential


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool a server offers."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class McpResult:
    """What a tool call answered (not an error): its structured content when it gave
    one, its content blocks as the protocol has them (``{"type": "text", "text"}``,
    ``{"type": "image", "data", "mimeType"}``, ...)."""

    content: list[dict[str, Any]] = field(default_factory=list)
    structured: Any = None

    @property
    def text(self) -> str:
        """The text blocks, joined by blank lines."""
        return "\n\n".join(
            str(block.get("text", "")) for block in self.content if block.get("type") == "text"
        )


@dataclass(frozen=True, slots=True)
class ServerCommand:
    """A stdio server: the command a host runs in its sandbox."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    network: bool = False
    """The server may use the network (else it has none at all)."""
    paths: tuple[str, ...] = ()
    """Folders and files of this machine the server sees, read-only, besides the system's
    programs and libraries."""
    cwd: str | None = None
    memory_mb: int | None = None
    """Memory each of its processes may use (heap and other private writable memory, not
    reserved address space), in MiB; ``None``: the host's default."""
    cpu_s: int | None = None
    """CPU seconds each of its processes may use over its life; ``None``: the default."""
    max_processes: int | None = None
    """Processes and threads it may have at once; ``None``: the host's default."""


class McpClients(Protocol):
    """Connections to MCP servers, kept per credential."""

    async def list_tools(self, credential: Credential) -> list[McpTool]:
        """The tools the server of ``credential`` (an ``mcp_server`` credential, revealed)
        offers; cached briefly."""
        ...

    async def call_tool(
        self, credential: Credential, tool: str, arguments: Mapping[str, Any]
    ) -> McpResult:
        """Call ``tool`` with ``arguments``; raises ``NodeError`` (the types above)."""
        ...
