"""The MCP server at ``/mcp``: workflows as tools for any MCP client (docs/reference/mcp.md).

``McpEndpoint`` is the ASGI app mounted at ``/mcp``. It checks the API key first, from
the request's headers alone (``Authorization: Bearer <key>``, the keys and roles of the
REST API): no key or a wrong one is 401 before the SDK sees a byte, so nothing of the
server (not even its tool list) is open without one. The session cookie is not taken:
MCP clients are programs, and a cookie would make the endpoint reachable from pages
elsewhere.

The official SDK (``mcp``) is imported on the first request to ``/mcp`` (``tav.api.mcp.
server``), not when the app is made: it weighs about 220 modules and 0.3 s of start-up
(with ``cryptography``), which a server that no MCP client talks to should not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from tav.api.deps import PRINCIPAL_SCOPE_KEY, authenticate
from tav.api.errors import ApiError, send_error
from tav.app.tools import Tools
from tav.storage.auth import AuthRepository

if TYPE_CHECKING:
    from tav.api.mcp.server import McpServer

PATH = "/mcp"
NO_KEY = (
    "the MCP server needs an API key: send 'Authorization: Bearer <key>' "
    "(make one with `tav api-keys create` or in the editor's settings)"
)


class McpEndpoint:
    """ASGI app: authenticate, then serve the request with the SDK (stateless)."""

    def __init__(self, auth: AuthRepository, tools: Tools | None) -> None:
        self.auth = auth
        self.tools = tools
        self._server: McpServer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        bearer = _bearer(scope)
        if bearer is None:
            await _unauthorized(send, NO_KEY)
            return
        try:
            principal = await authenticate(self.auth, bearer, None)
        except ApiError as error:
            await _unauthorized(send, f"{error.message}: the MCP server needs a valid API key")
            return
        if self.tools is None:
            await send_error(send, 503, "unavailable", "this process serves no MCP tools")
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        await self._served().handle(scope, receive, send)

    def _served(self) -> McpServer:
        if self._server is None:
            from tav.api.mcp.server import McpServer

            assert self.tools is not None
            self._server = McpServer(self.tools)
        return self._server


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
    return None


async def _unauthorized(send: Send, message: str) -> None:
    await send_error(send, 401, "unauthorized", message, headers=[(b"www-authenticate", b"Bearer")])
