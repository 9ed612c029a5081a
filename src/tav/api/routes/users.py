"""The team, for admins and the owner: members, their roles and keys, and invites.

``router`` holds the members (list, change a role, disable, enable, their API keys);
``invites`` the one-time invitations. The rules of who may do what to whom (nobody
disables or demotes the owner, an admin makes no owner, nobody changes their own role)
are ``tav.app.users.Users``'s; these routes translate HTTP.

Creating an invite answers with its token and link, this once: the token is not stored
(only its hash) and never logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tav.api.access import requires
from tav.api.deps import AuthDep, CurrentPrincipal, UsersDep
from tav.api.errors import ApiError, responses
from tav.api.routes.auth import api_key_public
from tav.api.schemas.auth import ApiKeyPublic
from tav.api.schemas.users import (
    InviteCreate,
    InviteCreated,
    InvitePublic,
    MemberPublic,
    RoleChange,
)
from tav.core.roles import Role
from tav.storage.auth import User
from tav.storage.invites import Invite

router = APIRouter(prefix="/users", tags=["users"], dependencies=[requires(Role.admin)])
invites = APIRouter(prefix="/invites", tags=["users"], dependencies=[requires(Role.admin)])
INVITE_PAGE = "/invite"
"""The editor's page that accepts an invite (the token follows ``#token=``)."""


@router.get("")
async def list_users(users: UsersDep) -> list[MemberPublic]:
    """Every member, disabled ones too, the oldest account first."""
    return [_member(user) for user in await users.all()]


@router.patch("/{user_id}", responses=responses(403, 404, 409))
async def change_role(
    user_id: str, body: RoleChange, users: UsersDep, principal: CurrentPrincipal
) -> MemberPublic:
    """Give the member another role. Making someone owner is the owner's alone: the owner
    becomes an admin. The owner's own role cannot be changed (403)."""
    return _member(await users.change_role(user_id, body.role, by=principal.actor))


@router.post("/{user_id}/disable", responses=responses(403, 404))
async def disable_user(user_id: str, users: UsersDep, principal: CurrentPrincipal) -> MemberPublic:
    """Disable the member: their sessions and API keys stop working at once, and they
    cannot sign in. The owner cannot be disabled (403)."""
    return _member(await users.disable(user_id, by=principal.actor))


@router.post("/{user_id}/enable", responses=responses(404))
async def enable_user(user_id: str, users: UsersDep, principal: CurrentPrincipal) -> MemberPublic:
    """Let a disabled member sign in again (their old sessions and keys stay revoked)."""
    return _member(await users.enable(user_id, by=principal.actor))


@router.get("/{user_id}/api-keys", responses=responses(404))
async def list_member_keys(user_id: str, users: UsersDep, auth: AuthDep) -> list[ApiKeyPublic]:
    """The member's API keys (without secrets)."""
    await users.get(user_id)
    return [api_key_public(key) for key in await auth.api_keys(user_id)]


@router.delete("/{user_id}/api-keys/{key_id}", status_code=204, responses=responses(404))
async def revoke_member_key(user_id: str, key_id: str, auth: AuthDep) -> None:
    """Revoke one of the member's API keys, at once."""
    if not await auth.delete_api_key(key_id, user_id):
        raise ApiError(404, "not_found", f"user {user_id!r} has no API key with id {key_id!r}")


@invites.get("")
async def list_invites(users: UsersDep) -> list[InvitePublic]:
    """The invites not accepted yet, newest first (expired ones too: revoke them)."""
    return [_invite(invite) for invite in await users.pending_invites()]


@invites.post("", status_code=201, responses=responses(403, 409))
async def create_invite(
    body: InviteCreate, request: Request, users: UsersDep, principal: CurrentPrincipal
) -> InviteCreated:
    """Invite someone by email to join with a role: the answer holds the one-time link
    to hand them (valid 7 days; shown this once). A new invite for the same email
    replaces the pending one."""
    invite, token = await users.invite(body.email, body.role, by=principal.actor)
    url = f"{_origin(request)}{INVITE_PAGE}#token={token}"
    return InviteCreated(**_invite(invite).model_dump(), token=token, url=url)


@invites.delete("/{invite_id}", status_code=204, responses=responses(404))
async def revoke_invite(invite_id: str, users: UsersDep, principal: CurrentPrincipal) -> None:
    """Revoke a pending invite: its link stops working."""
    await users.revoke_invite(invite_id, by=principal.actor)


def _origin(request: Request) -> str:
    """Where the inviter reaches the editor: the Origin of their browser's request (the
    gate has checked it is this server's), else the URL the request came to."""
    origin = request.headers.get("origin", "")
    return origin if origin.startswith("http") else str(request.base_url).rstrip("/")


def _member(user: User) -> MemberPublic:
    return MemberPublic(
        id=user.id,
        email=user.email,
        role=user.role,
        created_at=user.created_at,
        disabled=user.disabled,
        disabled_at=user.disabled_at,
    )


def _invite(invite: Invite) -> InvitePublic:
    return InvitePublic(
        id=invite.id,
        email=invite.email,
        role=invite.role,
        created_by=invite.created_by,
        created_at=invite.created_at,
        expires_at=invite.expires_at,
        expired=invite.expired,
    )
