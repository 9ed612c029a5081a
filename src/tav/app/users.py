"""The team, as the API and ``tav users`` manage it: invite, accept an invite, create,
change roles, disable and enable.

The rules of who may do what to whom live here, not in the routes, so that every way in
keeps them (``Actor``: who asks; ``None`` is this machine's administrator, through the
CLI, who may do anything but break the rules that hold for everyone):

- only admins and the owner manage users;
- there is exactly one owner: nobody can disable or demote the owner, no invite makes
  one, and only the owner can hand the role over to another user (who must be active),
  becoming an admin;
- nobody changes their own role or disables themselves (ask another admin).

Disabling ends the user's sessions and API keys at once (``tav.storage.users``) and then
tells the listeners registered with ``on_disabled`` (the collaboration rooms close the
user's connections), each awaited in turn; a listener that fails is logged and the others
still run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from tav.core.errors import Conflict, Forbidden, InputInvalid, NotFound
from tav.core.roles import Role
from tav.storage.auth import AuthRepository, User
from tav.storage.invites import Invite, InviteRepository
from tav.storage.users import UserRepository

logger = logging.getLogger("tav.app")
INVITE_TTL = timedelta(days=7)
"""How long an invite link can be used."""
MIN_PASSWORD = 8

DisabledListener = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a signed-in user (or their API key) with their role."""

    user_id: str
    role: Role


class Users:
    def __init__(
        self,
        users: UserRepository,
        invites: InviteRepository,
        auth: AuthRepository,
        *,
        invite_ttl: timedelta = INVITE_TTL,
    ) -> None:
        self.users = users
        self.invites = invites
        self.auth = auth
        self.invite_ttl = invite_ttl
        self._disabled_listeners: list[DisabledListener] = []

    def on_disabled(self, listener: DisabledListener) -> None:
        """Call ``listener(user_id)`` whenever a user is disabled, after their sessions
        and keys are gone."""
        self._disabled_listeners.append(listener)

    # -- reading --------------------------------------------------------------------------

    async def all(self) -> list[User]:
        return await self.users.all()

    async def get(self, user_id: str) -> User:
        found = await self.users.get(user_id)
        if found is None:
            raise NotFound(f"no user with id {user_id!r}")
        return found

    async def pending_invites(self) -> list[Invite]:
        return await self.invites.pending()

    # -- joining --------------------------------------------------------------------------

    async def create(self, email: str, password: str, role: Role) -> User:
        """A new member with a password (``tav users create``)."""
        _check_password(password)
        if role is Role.owner:
            raise InputInvalid("there is one owner: `tav users create-owner` creates it")
        try:
            return await self.auth.create_user(email, password, role)
        except ValueError as exc:
            raise Conflict(str(exc)) from None

    async def invite(self, email: str, role: Role, *, by: Actor | None) -> tuple[Invite, str]:
        """A one-time invite to join as ``role`` and its token (to hand over once)."""
        _manages(by)
        if role is Role.owner:
            raise Forbidden("nobody is invited as owner: the owner hands the role over")
        if await self.users.by_email(email) is not None:
            raise Conflict(f"there is already an account for {email.strip().lower()}")
        created_by = by.user_id if by is not None and by.user_id else None
        return await self.invites.create(email, role, created_by=created_by, ttl=self.invite_ttl)

    async def revoke_invite(self, invite_id: str, *, by: Actor | None) -> None:
        _manages(by)
        if not await self.invites.revoke(invite_id):
            raise NotFound(f"no pending invite with id {invite_id!r}")

    async def invite_for(self, token: str) -> Invite:
        """The invite the token opens, while it can be accepted (``NotFound``,
        ``Conflict`` otherwise)."""
        return await self.invites.usable(token)

    async def accept_invite(self, token: str, password: str) -> User:
        """Create the invited account with this password; the invite is used up."""
        _check_password(password)
        await self.invites.usable(token)  # before the costly hash: a bad link fails fast
        return await self.invites.accept(token, await self.auth.hash(password))

    # -- changing -------------------------------------------------------------------------

    async def change_role(self, user_id: str, role: Role, *, by: Actor | None) -> User:
        """Give the user ``role``. ``Role.owner``: the owner hands the role over and
        becomes an admin."""
        _manages(by)
        target = await self._other(user_id, by, "change your own role")
        if role is Role.owner:
            return await self._hand_over(target, by)
        if target.role is Role.owner:
            raise Forbidden("the owner's role cannot be changed: only the owner hands it over")
        changed = await self.users.set_role(user_id, role)
        if changed is None:
            raise NotFound(f"no user with id {user_id!r}")
        return changed

    async def disable(self, user_id: str, *, by: Actor | None = None) -> User:
        """Disable the user: their sessions and API keys end at once, they cannot sign in,
        and the ``on_disabled`` listeners are told."""
        _manages(by)
        target = await self._other(user_id, by, "disable yourself")
        if target.role is Role.owner:
            raise Forbidden("the owner cannot be disabled")
        disabled = await self.users.disable(user_id)
        if disabled is None:
            raise NotFound(f"no user with id {user_id!r}")
        for listener in list(self._disabled_listeners):
            try:
                await listener(user_id)
            except Exception:  # one listener's failure must not keep the others from closing
                logger.exception("a listener of disabled users failed for user %s", user_id)
        return disabled

    async def enable(self, user_id: str, *, by: Actor | None = None) -> User:
        """Let a disabled user sign in again; their old sessions and keys stay gone."""
        _manages(by)
        enabled = await self.users.enable(user_id)
        if enabled is None:
            raise NotFound(f"no user with id {user_id!r}")
        return enabled

    async def _other(self, user_id: str, by: Actor | None, what: str) -> User:
        target = await self.get(user_id)
        if by is not None and by.user_id == target.id:
            raise Forbidden(f"you cannot {what}: ask another admin")
        return target

    async def _hand_over(self, target: User, by: Actor | None) -> User:
        if by is not None and by.role is not Role.owner:
            raise Forbidden("only the owner can make another user the owner")
        if target.disabled:
            raise Conflict("a disabled user cannot become the owner: enable them first")
        if by is not None:
            owner_id = by.user_id
        else:
            owner_id = next((u.id for u in await self.users.all() if u.role is Role.owner), "")
        handed = await self.users.hand_over(owner_id, target.id)
        if handed is None:
            raise Conflict("the owner could not hand the role over: try again")
        return handed


def _manages(by: Actor | None) -> None:
    if by is not None and not by.role.manages_users:
        raise Forbidden(f"managing users needs the admin role; you are {by.role}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputInvalid(f"the password needs at least {MIN_PASSWORD} characters")
