"""Live co-editing: the WebSocket of a workflow's room, and its live draft over HTTP.

``/api/v1/workflows/{id}/collab`` speaks the standard Yjs sync and awareness protocols
(y-websocket's; ``tav.collab``) over binary messages. The handshake is checked before it
is accepted, and refused with an HTTP answer when:

- it carries no valid credentials (the session cookie, or ``Authorization: Bearer`` with
  an API key): 403, as the role rule of ``tav.api.access`` refuses every WebSocket (any
  role may join: a viewer only watches).
- its ``Origin`` (which browsers always send) is neither the server's own nor one of
  ``TAV_PUBLIC_ORIGINS``: 403 ``cross_site_request``. A page elsewhere could otherwise
  open the room with the owner's cookie (cross-site WebSocket hijacking).
- the workflow does not exist: 404 ``not_found``.

Once open, a connection lives until it is closed by the client or with one of the codes
of ``tav.collab.protocol.CloseCode`` (docs/api/rest.md, "Live co-editing").

``GET /draft`` gives the live draft as a document with its validation problems, checked as
a save would check it; ``POST /draft/save`` makes it a numbered version, with ``If-Match``
as a ``PUT`` takes it.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from tav.api.access import requires
from tav.api.deps import (
    SESSION_COOKIE,
    CurrentPrincipal,
    Principal,
    SettingsDep,
    WorkflowsDep,
    authenticate,
    connection_principal,
    parts_of,
)
from tav.api.documents import storable_document
from tav.api.errors import ApiError, error_body
from tav.api.origins import OriginPolicy, public_origins
from tav.api.routes.workflows import BaseVersion, Stored
from tav.api.schemas.collab import DraftPublic
from tav.api.schemas.workflows import ProblemPublic, WorkflowPublic
from tav.app.workflows import Workflows
from tav.collab.ports import Access, Closed
from tav.collab.protocol import Malformed
from tav.core.errors import WorkflowInvalid
from tav.core.roles import Role
from tav.settings import Settings
from tav.storage.auth import AuthRepository
from tav.storage.workflows import STORED_ID

router = APIRouter(
    prefix="/workflows",
    tags=["collaboration"],
    dependencies=[requires(Role.viewer, Role.editor)],
)
"""The draft over HTTP: a viewer may read it, an editor save it."""
live = APIRouter(prefix="/workflows", tags=["collaboration"], dependencies=[requires(Role.viewer)])
"""The WebSocket: anyone in the team may join (a viewer only watches)."""


# -- the WebSocket -------------------------------------------------------------------------


class SocketChannel:
    """A Starlette WebSocket as a room's ``tav.collab.ports.Channel``."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def recv(self) -> bytes:
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            raise Closed from None
        if message["type"] == "websocket.disconnect":
            raise Closed
        data = message.get("bytes")
        if data is None:
            raise Malformed("a text message: the Yjs protocols are binary")
        return bytes(data)

    async def send(self, message: bytes) -> None:
        try:
            await self.websocket.send_bytes(message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            raise Closed from None

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            try:
                await self.websocket.close(code, reason)
            except (WebSocketDisconnect, RuntimeError, OSError):
                raise Closed from None


class ConnectionCredentials:
    """The credentials a connection was opened with, checked again once a second."""

    def __init__(self, auth: AuthRepository, bearer: str | None, session: str | None) -> None:
        self.auth = auth
        self.bearer = bearer
        self.session = session
        secret = f"{bearer or ''}\x00{session or ''}".encode()
        self.key = hashlib.sha256(secret).hexdigest()

    async def check(self) -> Access | None:
        try:
            principal = await authenticate(self.auth, self.bearer, self.session)
        except ApiError:
            return None
        return _access(principal)


@live.websocket("/{workflow_id}/collab")
async def collab(
    websocket: WebSocket,
    workflow_id: str,
    principal: Annotated[Principal, Depends(connection_principal)],
) -> None:
    """Join the workflow's room: Yjs sync and awareness over binary messages."""
    parts = parts_of(websocket)
    origin = websocket.headers.get("origin")
    if origin is not None and not _origins(websocket).trusts(websocket.scope, origin):
        message = (
            f"cross-site WebSocket refused: it comes from {origin!r}, not from this server's "
            "own origin (behind a proxy, list the origin browsers use in TAV_PUBLIC_ORIGINS)"
        )
        await _deny(websocket, 403, "cross_site_request", message)
        return
    if not STORED_ID.match(workflow_id) or await parts.workflows.get(workflow_id) is None:
        await _deny(websocket, 404, "not_found", f"no workflow with id {workflow_id!r}")
        return
    await websocket.accept()
    access = _access(principal)
    credentials = ConnectionCredentials(parts.auth, *_credentials(websocket))
    await parts.collab.serve(workflow_id, SocketChannel(websocket), credentials, access)


def _access(principal: Principal) -> Access:
    return Access(principal.user_id or None, principal.can_edit, principal.email or principal.name)


def _origins(websocket: WebSocket) -> OriginPolicy:
    policy = getattr(websocket.app.state, "origins", None)
    if not isinstance(policy, OriginPolicy):
        policy = OriginPolicy(public_origins(parts_of(websocket).settings))
        websocket.app.state.origins = policy
    return policy


def _credentials(websocket: WebSocket) -> tuple[str | None, str | None]:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return bearer, websocket.cookies.get(SESSION_COOKIE)


async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake with an HTTP answer (a plain 403 where the server cannot
    send one)."""
    try:
        await websocket.send_denial_response(
            JSONResponse(error_body(code, message), status_code=status)
        )
    except RuntimeError:
        await websocket.close(1008, message[:120])


# -- the draft over HTTP -------------------------------------------------------------------


async def _checked(settings: Settings, workflows: Workflows, data: Any) -> dict[str, Any]:
    """``data`` as a storable document that can run: the checks of ``PUT``."""
    document = await asyncio.to_thread(
        storable_document, data, max_bytes=settings.max_workflow_bytes
    )
    await workflows.check(document)
    return document


@router.get("/{workflow_id}/draft")
async def get_draft(
    workflow: Stored, settings: SettingsDep, workflows: WorkflowsDep, response: Response
) -> DraftPublic:
    """The live draft (what the people editing the workflow see now) as a document, with
    the problems a save would report. The ``ETag`` is the saved version it is based on."""
    document, version = await workflows.draft(workflow.id)
    problems: list[ProblemPublic] = []
    try:
        await _checked(settings, workflows, document)
    except WorkflowInvalid as exc:
        problems = [ProblemPublic.model_validate(p.to_dict()) for p in exc.problems]
    response.headers["ETag"] = f'"{version}"'
    return DraftPublic(
        workflow_id=workflow.id,
        version=version,
        document=document,
        valid=not problems,
        problems=problems,
    )


@router.post("/{workflow_id}/draft/save")
async def save_draft(
    workflow: Stored,
    settings: SettingsDep,
    workflows: WorkflowsDep,
    principal: CurrentPrincipal,
    response: Response,
    base: BaseVersion,
) -> WorkflowPublic:
    """Save the live draft as a new version, checked as ``PUT`` checks a document (422
    with every problem); 409 when ``If-Match`` names a version that is no longer the
    current one. Changes made to the draft meanwhile stay in it."""

    async def prepare(document: dict[str, Any]) -> dict[str, Any]:
        return await _checked(settings, workflows, document)

    saved = await workflows.save_draft(
        workflow, prepare=prepare, base_version=base, by=principal.user_id or None
    )
    response.headers["ETag"] = f'"{saved.version}"'
    return WorkflowPublic.model_validate(saved)
