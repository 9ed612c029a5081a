"""A small MCP server on the official SDK, for the MCP client's tests.

Run as a script: ``python tools_server.py stdio`` (over its standard input and output) or
``python tools_server.py http PORT`` (streamable HTTP on 127.0.0.1:PORT at ``/mcp``).

Tools: ``add`` (structured result), ``echo`` (text), ``fail`` (a tool error), ``hang``
(sleeps for ever), ``die`` (the process exits mid-call), ``pixel`` (an image block),
``peer`` (the client's TCP port),
``whoami`` (the uid, and whether the network can be reached), ``env`` (one variable),
``hog`` (holds memory; out of it, the process dies), ``spin`` (burns CPU).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
import time
import traceback

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent
from pydantic import BaseModel

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

server = MCPServer("test-tools", instructions="Tools for TAV's tests.")


class Sum(BaseModel):
    sum: int


@server.tool(description="Adds two integers.")
def add(a: int, b: int) -> Sum:
    return Sum(sum=a + b)


@server.tool(description="Says the text back.")
def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool(description="Always fails.")
def fail(reason: str = "no reason") -> str:
    raise ToolError(f"failed on purpose: {reason}")


@server.tool(description="Never answers.")
async def hang() -> str:
    await asyncio.sleep(3600)
    return "never"


@server.tool(description="Ends the server's process mid-call.")
def die() -> str:
    os._exit(3)


@server.tool(description="A one-pixel PNG.")
def pixel() -> ImageContent:
    return ImageContent(type="image", data=base64.b64encode(PNG).decode(), mimeType="image/png")


@server.tool(description="Who the server runs as, and whether 127.0.0.1 can be reached.")
def whoami(port: int = 9) -> dict[str, object]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            network = "connected"
    except OSError as exc:
        network = type(exc).__name__
    return {"uid": os.getuid(), "pid": os.getpid(), "network": network}


@server.tool(description="The client's TCP port (HTTP only): the same for calls on one connection.")
def peer(ctx: Context) -> int:
    request = ctx.request_context.request
    return int(request.client.port) if request is not None and request.client else 0


_HELD: list[bytearray] = []
MIB = 1024 * 1024


@server.tool(description="Holds mb MiB more for as long as the server runs: the MiB held.")
def hog(mb: int) -> int:
    try:
        _HELD.append(bytearray(mb * MIB))
    except MemoryError:  # (dies of it, as servers on runtimes that cannot go on do)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    return sum(map(len, _HELD)) // MIB


@server.tool(description="Keeps a CPU busy for the seconds given (wall clock).")
def spin(seconds: float) -> str:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass
    return "spun"


@server.tool(description="One environment variable.")
def env(name: str) -> str:
    return os.environ.get(name, "")


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
