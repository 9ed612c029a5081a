"""Dependencies of the route handlers: the parts and use-case services they need (built
by ``tav.app.root``, kept in ``app.state.parts``), the settings in force, and who is
calling.

Each is ``async``: FastAPI runs a plain ``def`` dependency on a worker thread, and the
hand-over costs more than the whole lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from tav.api.errors import ApiError
from tav.app.executions import Executions
from tav.app.root import RecordingParts
from tav.app.settings import RuntimeConfig
from tav.app.users import Actor, Users
from tav.app.workflows import Workflows
from tav.core.roles import Role, UserRef
from tav.credentials import CredentialService
from tav.nodes.registry import NodeRegistry
from tav.settings import Settings
from tav.storage.auth import AuthRepository
from tav.storage.config import VariableRepository
from tav.storage.files import FileStore
from tav.storage.vectors import VectorStore

SESSION_COOKIE = "tav_session"
PRINCIPAL_SCOPE_KEY = "tav.principal"
"""Where ``tav.api.gate.AuthGate`` leaves the caller in the ASGI scope."""
_bearer = HTTPBearer(auto_error=False, description="An API key: `tav api-keys create`.")


def parts_of(connection: HTTPConnection) -> RecordingParts:
    parts: RecordingParts = connection.app.state.parts
    return parts


async def get_settings(request: Request) -> Settings:
    """The settings in force: the environment's, with the stored runtime settings over
    them."""
    return parts_of(request).settings


async def get_executions(request: Request) -> Executions:
    return parts_of(request).executions_service


async def get_workflows(request: Request) -> Workflows:
    return parts_of(request).workflows_service


async def get_runtime_config(request: Request) -> RuntimeConfig:
    return parts_of(request).settings_service


async def get_auth(connection: HTTPConnection) -> AuthRepository:
    return parts_of(connection).auth


async def get_users(connection: HTTPConnection) -> Users:
    return parts_of(connection).users_service


async def get_credentials(request: Request) -> CredentialService:
    return parts_of(request).credentials


async def get_variables(request: Request) -> VariableRepository:
    return parts_of(request).variables


async def get_files(request: Request) -> FileStore:
    return parts_of(request).files


async def get_vectors(request: Request) -> VectorStore:
    return parts_of(request).vectors


async def get_registry(request: Request) -> NodeRegistry:
    return parts_of(request).registry


SettingsDep = Annotated[Settings, Depends(get_settings)]
ExecutionsDep = Annotated[Executions, Depends(get_executions)]
WorkflowsDep = Annotated[Workflows, Depends(get_workflows)]
RuntimeConfigDep = Annotated[RuntimeConfig, Depends(get_runtime_config)]
AuthDep = Annotated[AuthRepository, Depends(get_auth)]
UsersDep = Annotated[Users, Depends(get_users)]
CredentialsDep = Annotated[CredentialService, Depends(get_credentials)]
VariablesDep = Annotated[VariableRepository, Depends(get_variables)]
FilesDep = Annotated[FileStore, Depends(get_files)]
VectorsDep = Annotated[VectorStore, Depends(get_vectors)]
RegistryDep = Annotated[NodeRegistry, Depends(get_registry)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user through a browser session (``kind`` "user": ``id`` and
    ``name`` are the user's id and email), or an API key (``kind`` "api_key": the key's id
    and name) acting as its user. ``user_id`` is the user either way; it is "" only for a
    key made before any account existed, which acts as the owner."""

    kind: str
    id: str
    name: str
    user_id: str
    role: Role
    email: str = ""
    """The user's email ("" with ``user_id``)."""

    @property
    def can_edit(self) -> bool:
        """Whether the caller may build, save and run workflows (owner, admin, editor)."""
        return self.role.can_edit

    @property
    def actor(self) -> Actor:
        """The caller as the use cases see who asks."""
        return Actor(self.user_id, self.role)

    @property
    def user(self) -> UserRef | None:
        """The user, as records name who did something."""
        return UserRef(id=self.user_id, email=self.email) if self.user_id else None


async def authenticate(auth: AuthRepository, bearer: str | None, session: str | None) -> Principal:
    """The caller an API key (first) or a session token opens; ``ApiError`` 401 if none
    (also for a key or session of a disabled user: theirs are deleted)."""
    if bearer is not None:
        key = await auth.check_api_key(bearer)
        if key is None:
            raise ApiError(401, "unauthorized", "the API key is not valid")
        return Principal("api_key", key.id, key.name, key.user_id or "", key.role, key.user_email)
    if session:
        user = await auth.session_user(session)
        if user is not None:
            return Principal("user", user.id, user.email, user.id, user.role, user.email)
    raise ApiError(
        401,
        "unauthorized",
        "sign in (POST /api/v1/auth/login) or send an API key as 'Authorization: Bearer ...'",
    )


async def current_principal(
    request: Request,
    auth: AuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller ``tav.api.gate.AuthGate`` found before the body was read; looked up
    here only for a route outside the gate's paths."""
    found = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(found, Principal):
        return found
    token = bearer.credentials if bearer is not None else None
    return await authenticate(auth, token, request.cookies.get(SESSION_COOKIE))


async def connection_principal(connection: HTTPConnection, auth: AuthDep) -> Principal:
    """The caller of a request or a WebSocket connection: what ``AuthGate`` found, or
    (for a WebSocket, which the gate does not see) looked up from its headers here."""
    found = connection.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(found, Principal):
        return found
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    principal = await authenticate(auth, bearer, connection.cookies.get(SESSION_COOKIE))
    connection.scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
