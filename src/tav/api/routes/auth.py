"""Owner setup, login/logout for browsers, accepting an invite, who is calling, and the
caller's own API keys.

``router`` holds the public routes (no credentials: ``tav.api.app.PUBLIC_ROUTES``);
``account`` the caller's own, open to every role. An API key is its user's: each user
lists, creates and revokes only their own here (admins see and revoke anyone's under
``/users/{id}/api-keys``).

An invite's token reaches the server only in request bodies, never in a URL: the link
carries it after ``#``, which browsers do not send, so no access log or proxy keeps it.

The owner account is created from this machine: a request from a loopback address to a
localhost name (``tav.api.origins.from_this_machine``) needs nothing more, any other needs
the one-time setup token that ``tav serve`` prints at start while there is no owner
(``prepare_setup``). So ``make run`` and a browser on the same machine create it at once,
and a server exposed before its owner exists cannot be claimed by whoever finds it first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from tav.api.access import requires
from tav.api.deps import SESSION_COOKIE, AuthDep, CurrentPrincipal, SettingsDep, UsersDep
from tav.api.errors import ApiError, responses
from tav.api.origins import from_this_machine
from tav.api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeyRef,
    AuthStatus,
    Credentials,
    InviteAccept,
    InviteInfo,
    InviteLookup,
    Me,
    OwnerSetup,
    UserPublic,
)
from tav.api.throttle import LoginThrottle, client_key
from tav.core.roles import Role
from tav.settings import Settings
from tav.storage.auth import ApiKey, AuthRepository, User

logger = logging.getLogger("tav.api")
router = APIRouter(prefix="/auth", tags=["auth"])
account = APIRouter(prefix="/auth", tags=["auth"], dependencies=[requires(Role.viewer)])


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
        user = _user(found) if found else None
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
    return _user(user)


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


@router.post("/login", responses=responses(401, 403, 429))
async def login(
    body: Credentials,
    request: Request,
    response: Response,
    auth: AuthDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> UserPublic:
    """Sign in; wrong passwords lock the account and the client address a while (429). A
    disabled account is refused (403 ``account_disabled``) once its password is right."""
    address = client_key(request.client.host if request.client else "")
    attempt = throttle.begin(body.email, address)
    user = None
    try:
        user = await auth.authenticate(body.email, body.password)
    finally:
        attempt.settle(succeeded=user is not None)
    if user is None:
        raise ApiError(401, "unauthorized", "wrong email or password")
    if user.disabled:
        raise ApiError(403, "account_disabled", "this account is disabled: ask an admin")
    await _sign_in(auth, settings, user, request, response)
    return _user(user)


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, auth: AuthDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await auth.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/invite", responses=responses(404, 409))
async def look_at_invite(body: InviteLookup, users: UsersDep) -> InviteInfo:
    """What the invite offers (email, role, until when), while it can be accepted: 404 for
    an unknown or revoked link, 409 for a used or expired one."""
    invite = await users.invite_for(body.token)
    return InviteInfo(email=invite.email, role=invite.role, expires_at=invite.expires_at)


@router.post("/invite/accept", status_code=201, responses=responses(404, 409))
async def accept_invite(
    body: InviteAccept,
    request: Request,
    response: Response,
    auth: AuthDep,
    users: UsersDep,
    settings: SettingsDep,
) -> UserPublic:
    """Create the invited account with this password and sign in; the link is used up."""
    user = await users.accept_invite(body.token, body.password)
    await _sign_in(auth, settings, user, request, response)
    return _user(user)


@account.get("/me")
async def me(principal: CurrentPrincipal, users: UsersDep) -> Me:
    """The caller: their user and role, and whether by session or API key."""
    user = None
    if principal.user_id:
        user = _user(await users.get(principal.user_id))
    key = ApiKeyRef(id=principal.id, name=principal.name) if principal.kind == "api_key" else None
    return Me(
        user=user,
        role=principal.role,
        via="api_key" if key else "session",
        api_key=key,
        can_edit=principal.can_edit,
        manages_users=principal.role.manages_users,
    )


@account.get("/api-keys")
async def list_api_keys(auth: AuthDep, principal: CurrentPrincipal) -> list[ApiKeyPublic]:
    """The caller's own keys (without secrets)."""
    return [api_key_public(key) for key in await auth.api_keys(_own(principal))]


@account.post("/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, auth: AuthDep, principal: CurrentPrincipal
) -> ApiKeyCreated:
    """A new key of the caller, acting with the caller's role; its secret is in this
    answer only."""
    key, secret = await auth.create_api_key(body.name, principal.user_id or None)
    return ApiKeyCreated(**api_key_public(key).model_dump(), key=secret)


@account.delete("/api-keys/{key_id}", status_code=204, responses=responses(404))
async def delete_api_key(key_id: str, auth: AuthDep, principal: CurrentPrincipal) -> None:
    """Revoke one of the caller's keys, at once."""
    if not await auth.delete_api_key(key_id, _own(principal)):
        raise ApiError(404, "not_found", f"you have no API key with id {key_id!r}")


def _own(principal: CurrentPrincipal) -> str | None:
    """Whose keys the caller's are: their user's (every key, for a key made before any
    account existed, as there is nobody else's)."""
    return principal.user_id or None


def api_key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        role=key.role,
    )


def _user(user: User) -> UserPublic:
    return UserPublic(id=user.id, email=user.email, role=user.role)


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
