"""Which role each route needs: declared once per router, checked at every request.

Each router under ``/api/v1`` names its rule when it is made::

    router = APIRouter(prefix="/workflows", dependencies=[requires(Role.viewer, Role.editor)])

``read`` is the role reading needs (GET and HEAD, and opening a WebSocket), ``write`` the
role every other method needs. A caller whose role is below it gets 403 ``forbidden``
with a message naming the role needed; a WebSocket is closed with code 1008 and that
message as its reason. A test walks every route of the app and fails for one that
declares no rule (``rule_of``), so a route added later cannot be left open by mistake.

A rule per router rather than per route: the routers here split along what they touch
(workflows, credentials, users), and reading versus changing is the one distinction their
routes need. A table of route names to roles was rejected: it repeats each route's name
away from the route, and a renamed route would fall out of it silently.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, params
from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION

from tav.api.deps import AuthDep, Principal, connection_principal
from tav.api.errors import ApiError
from tav.core.roles import Role

READ_METHODS = frozenset({"GET", "HEAD"})


class Requires:
    """The dependency that checks a router's rule (made by ``requires``)."""

    def __init__(self, read: Role, write: Role | None = None) -> None:
        self.read = read
        self.write = write or read

    def needed(self, method: str) -> Role:
        """The role a request with ``method`` needs (``WEBSOCKET`` for a connection)."""
        return self.read if method in READ_METHODS or method == "WEBSOCKET" else self.write

    async def __call__(self, connection: HTTPConnection, auth: AuthDep) -> Principal:
        websocket = connection.scope["type"] == "websocket"
        try:
            principal = await connection_principal(connection, auth)
        except ApiError as error:
            if websocket:
                raise WebSocketException(WS_1008_POLICY_VIOLATION, error.message) from None
            raise
        needed = self.needed("WEBSOCKET" if websocket else connection.scope["method"])
        if not principal.role.at_least(needed):
            message = _refusal(needed, principal.role)
            if websocket:
                raise WebSocketException(WS_1008_POLICY_VIOLATION, message)
            details = {"required_role": needed.value, "role": principal.role.value}
            raise ApiError(403, "forbidden", message, details)
        return principal

    def __repr__(self) -> str:
        return f"requires(read={self.read}, write={self.write})"


def requires(read: Role, write: Role | None = None) -> params.Depends:
    """A router's rule, for its ``dependencies``: ``read`` for GET and HEAD (and
    WebSockets), ``write`` (default: ``read``) for every other method."""
    rule: params.Depends = Depends(Requires(read, write))
    return rule


def _refusal(needed: Role, role: Role) -> str:
    above = "" if needed is Role.owner else " (or above)"
    return f"this needs the {needed} role{above}; your role is {role}"


def rule_of(dependant: Any) -> list[Requires]:
    """Every ``Requires`` among a route's dependencies, at any depth (a FastAPI
    ``Dependant``)."""
    found = [dependant.call] if isinstance(dependant.call, Requires) else []
    for sub in dependant.dependencies:
        found += rule_of(sub)
    return found
