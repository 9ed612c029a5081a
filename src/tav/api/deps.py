"""Dependencies of the route handlers: the server, its use-case services, and who is
calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tav.api.errors import ApiError
from tav.app.executions import Executions
from tav.app.settings import RuntimeConfig
from tav.app.workflows import Workflows
from tav.server import Server

SESSION_COOKIE = "tav_session"
PRINCIPAL_SCOPE_KEY = "tav.principal"
"""Where ``tav.api.gate.AuthGate`` leaves the caller in the ASGI scope."""
_bearer = HTTPBearer(auto_error=False, description="An API key: `tav api-keys create`.")


async def get_server(request: Request) -> Server:
    """``async``, as every dependency here: FastAPI runs a plain ``def`` dependency on a
    worker thread, and the hand-over costs more than the whole lookup."""
    server: Server = request.app.state.server
    return server


ServerDep = Annotated[Server, Depends(get_server)]


async def get_executions(request: Request) -> Executions:
    server: Server = request.app.state.server
    return server.executions_service


async def get_workflows(request: Request) -> Workflows:
    server: Server = request.app.state.server
    return server.workflows_service


async def get_runtime_config(request: Request) -> RuntimeConfig:
    server: Server = request.app.state.server
    return server.settings_service


ExecutionsDep = Annotated[Executions, Depends(get_executions)]
WorkflowsDep = Annotated[Workflows, Depends(get_workflows)]
RuntimeConfigDep = Annotated[RuntimeConfig, Depends(get_runtime_config)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the owner through a browser session, or a named API key."""

    kind: str
    id: str
    name: str


async def authenticate(server: Server, bearer: str | None, session: str | None) -> Principal:
    """The caller an API key (first) or a session token opens; ``ApiError`` 401 if none."""
    if bearer is not None:
        key = await server.auth.check_api_key(bearer)
        if key is None:
            raise ApiError(401, "unauthorized", "the API key is not valid")
        return Principal("api_key", key.id, key.name)
    if session:
        user = await server.auth.session_user(session)
        if user is not None:
            return Principal("user", user.id, user.email)
    raise ApiError(
        401,
        "unauthorized",
        "sign in (POST /api/v1/auth/login) or send an API key as 'Authorization: Bearer ...'",
    )


async def current_principal(
    request: Request,
    server: ServerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller ``tav.api.gate.AuthGate`` found before the body was read; looked up
    here only for a route outside the gate's paths."""
    found = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(found, Principal):
        return found
    token = bearer.credentials if bearer is not None else None
    return await authenticate(server, token, request.cookies.get(SESSION_COOKIE))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
