"""Owner setup, login/logout for browsers, and API keys."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response

from tav.api.deps import SESSION_COOKIE, CurrentPrincipal, ServerDep, current_principal
from tav.api.errors import ApiError
from tav.api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    AuthStatus,
    Credentials,
    UserPublic,
)
from tav.server import Server
from tav.storage.auth import User

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/status")
async def status(request: Request, server: ServerDep) -> AuthStatus:
    """Whether the owner account still has to be created, and who is signed in."""
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await server.auth.session_user(token)
        user = UserPublic(**asdict(found)) if found else None
    return AuthStatus(setup_required=not await server.auth.has_owner(), user=user)


@router.post("/setup", status_code=201)
async def setup(
    body: Credentials, request: Request, response: Response, server: ServerDep
) -> UserPublic:
    """Create the owner account (only while there is none) and sign in."""
    try:
        user = await server.auth.create_owner(body.email, body.password)
    except ValueError:
        raise ApiError(409, "conflict", "the owner account already exists") from None
    await _sign_in(server, user, request, response)
    return UserPublic(**asdict(user))


@router.post("/login")
async def login(
    body: Credentials, request: Request, response: Response, server: ServerDep
) -> UserPublic:
    user = await server.auth.authenticate(body.email, body.password)
    if user is None:
        raise ApiError(401, "unauthorized", "wrong email or password")
    await _sign_in(server, user, request, response)
    return UserPublic(**asdict(user))


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, server: ServerDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await server.auth.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/api-keys", dependencies=[Depends(current_principal)])
async def list_api_keys(server: ServerDep) -> list[ApiKeyPublic]:
    return [ApiKeyPublic(**asdict(key)) for key in await server.auth.api_keys()]


@router.post("/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, server: ServerDep, _: CurrentPrincipal
) -> ApiKeyCreated:
    key, secret = await server.auth.create_api_key(body.name)
    return ApiKeyCreated(**asdict(key), key=secret)


@router.delete("/api-keys/{key_id}", status_code=204, dependencies=[Depends(current_principal)])
async def delete_api_key(key_id: str, server: ServerDep) -> None:
    if not await server.auth.delete_api_key(key_id):
        raise ApiError(404, "not_found", f"no API key with id {key_id!r}")


async def _sign_in(server: Server, user: User, request: Request, response: Response) -> None:
    ttl = timedelta(hours=server.settings.session_ttl_hours)
    token = await server.auth.create_session(user, ttl)
    secure = server.settings.secure_cookies
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
