"""Owner setup, login/logout for browsers, and API keys.

The owner account is created from this machine: a request from a loopback address to a
localhost name (``tav.api.origins.from_this_machine``) needs nothing more, any other needs
the one-time setup token that ``tav serve`` prints at start while there is no owner
(``prepare_setup``). So ``make run`` and a browser on the same machine create it at once,
and a server exposed before its owner exists cannot be claimed by whoever finds it first.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from tav.api.deps import (
    SESSION_COOKIE,
    AuthDep,
    CurrentPrincipal,
    SettingsDep,
    current_principal,
)
from tav.api.errors import ApiError, responses
from tav.api.origins import from_this_machine
from tav.api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    AuthStatus,
    Credentials,
    OwnerSetup,
    UserPublic,
)
from tav.api.throttle import LoginThrottle, client_key
from tav.settings import Settings
from tav.storage.auth import AuthRepository, User

logger = logging.getLogger("tav.api")
router = APIRouter(prefix="/auth", tags=["auth"])


async def _login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


ThrottleDep = Annotated[LoginThrottle, Depends(_login_throttle)]


async def prepare_setup(auth: AuthRepository) -> None:
    """At start: while there is no owner, issue the setup token and say where it is."""
    token = auth.setup_token
    if token is None:
        return
    if await auth.has_owner():
        token.discard()  # left by an owner created while no server ran
        return
    logger.warning(
        "No owner account yet: open the editor to create it. From another machine it asks "
        "for this setup token: %s (also in %s)",
        token.issue(),
        token.path,
    )


def _token_needed(request: Request, settings: Settings) -> bool:
    # Public origins mean a proxy, whose requests come from 127.0.0.1 and may carry a
    # localhost Host: none of them is taken for one from this machine.
    local = settings.local_setup and not settings.public_origins
    return not (local and from_this_machine(request.scope))


@router.get("/status")
async def status(request: Request, auth: AuthDep, settings: SettingsDep) -> AuthStatus:
    """Whether the owner account still has to be created (and whether the setup token is
    needed for it from here), and who is signed in."""
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await auth.session_user(token)
        user = UserPublic(**asdict(found)) if found else None
    if await auth.has_owner():
        return AuthStatus(setup_required=False, user=user)
    needed, setup_token = _token_needed(request, settings), auth.setup_token
    path = str(setup_token.path) if needed and setup_token is not None else None
    return AuthStatus(
        setup_required=True, setup_token_required=needed, setup_token_file=path, user=user
    )


@router.post("/setup", status_code=201, responses=responses(403, 409))
async def setup(
    body: OwnerSetup,
    request: Request,
    response: Response,
    auth: AuthDep,
    settings: SettingsDep,
) -> UserPublic:
    """Create the owner account (only while there is none) and sign in. From another
    machine, ``setup_token`` must be the token ``tav serve`` printed."""
    if await auth.has_owner():
        raise ApiError(409, "conflict", "the owner account already exists")
    if _token_needed(request, settings):
        _check_setup_token(auth, body.setup_token)
    try:
        user = await auth.create_owner(body.email, body.password)
    except ValueError:
        raise ApiError(409, "conflict", "the owner account already exists") from None
    await _sign_in(auth, settings, user, request, response)
    return UserPublic(**asdict(user))


def _check_setup_token(auth: AuthRepository, given: str | None) -> None:
    token = auth.setup_token
    where = f" (and is stored in {token.path})" if token else ""
    if not given:
        raise ApiError(
            403,
            "setup_token_required",
            "creating the owner account from another machine needs the setup token: "
            f"`tav serve` printed it in its terminal when it started{where}",
        )
    if token is None or not token.matches(given):
        raise ApiError(
            403,
            "setup_token_invalid",
            f"the setup token is not right: use the one `tav serve` printed{where}",
        )


@router.post("/login", responses=responses(401, 429))
async def login(
    body: Credentials,
    request: Request,
    response: Response,
    auth: AuthDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> UserPublic:
    """Sign in; wrong passwords lock the account and the client address a while (429)."""
    address = client_key(request.client.host if request.client else "")
    attempt = throttle.begin(body.email, address)
    user = None
    try:
        user = await auth.authenticate(body.email, body.password)
    finally:
        attempt.settle(succeeded=user is not None)
    if user is None:
        raise ApiError(401, "unauthorized", "wrong email or password")
    await _sign_in(auth, settings, user, request, response)
    return UserPublic(**asdict(user))


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, auth: AuthDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await auth.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/api-keys", dependencies=[Depends(current_principal)])
async def list_api_keys(auth: AuthDep) -> list[ApiKeyPublic]:
    return [ApiKeyPublic(**asdict(key)) for key in await auth.api_keys()]


@router.post("/api-keys", status_code=201)
async def create_api_key(body: ApiKeyCreate, auth: AuthDep, _: CurrentPrincipal) -> ApiKeyCreated:
    key, secret = await auth.create_api_key(body.name)
    return ApiKeyCreated(**asdict(key), key=secret)


@router.delete("/api-keys/{key_id}", status_code=204, dependencies=[Depends(current_principal)])
async def delete_api_key(key_id: str, auth: AuthDep) -> None:
    if not await auth.delete_api_key(key_id):
        raise ApiError(404, "not_found", f"no API key with id {key_id!r}")


async def _sign_in(
    auth: AuthRepository, settings: Settings, user: User, request: Request, response: Response
) -> None:
    ttl = timedelta(hours=settings.session_ttl_hours)
    token = await auth.create_session(user, ttl)
    secure = settings.secure_cookies
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
