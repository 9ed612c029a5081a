"""One-time invitations to join the team with a role.

An invite's token is a random 256-bit secret, given once to whoever invited (inside a
link); only its SHA-256 is stored, as for sessions and API keys. Accepting marks the
invite used and creates the account in one transaction, on the condition that it is
still unused and unexpired: two people racing with the same link get one account between
them. A new invite for an email replaces the one still pending for it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select, update

from tav.core.errors import Conflict, NotFound
from tav.core.events import utcnow
from tav.core.roles import Role
from tav.storage.auth import User, new_user, user_of
from tav.storage.db import Database
from tav.storage.models import InviteRow, UserRow


@dataclass(frozen=True)
class Invite:
    id: str
    email: str
    role: Role
    created_by: str | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.accepted_at is None and self.expires_at <= utcnow()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InviteRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, email: str, role: Role, *, created_by: str | None, ttl: timedelta
    ) -> tuple[Invite, str]:
        """A new invite and its token (shown once, never stored)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = InviteRow(
            id=uuid.uuid4().hex,
            email=email.strip().lower(),
            role=role.value,
            token_hash=token_hash(token),
            created_by=created_by,
            created_at=now,
            expires_at=now + ttl,
        )
        async with self.db.transaction() as session:
            await session.execute(
                delete(InviteRow).where(
                    InviteRow.email == row.email, InviteRow.accepted_at.is_(None)
                )
            )
            session.add(row)
        return _invite(row), token

    async def pending(self) -> list[Invite]:
        """The invites not accepted yet (expired ones too), newest first."""
        query = (
            select(InviteRow)
            .where(InviteRow.accepted_at.is_(None))
            .order_by(InviteRow.created_at.desc(), InviteRow.id)
        )
        async with self.db.session() as session:
            return [_invite(row) for row in await session.scalars(query)]

    async def revoke(self, invite_id: str) -> bool:
        """Delete a pending invite: its link stops working."""
        statement = delete(InviteRow).where(
            InviteRow.id == invite_id, InviteRow.accepted_at.is_(None)
        )
        async with self.db.transaction() as session:
            result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def usable(self, token: str) -> Invite:
        """The invite the token opens, if it can still be accepted: ``NotFound`` if there
        is none (or it was revoked), ``Conflict`` if it was used or has expired."""
        async with self.db.session() as session:
            row = await session.scalar(_by_token(token))
        return _usable(row)

    async def accept(self, token: str, password_hash: str) -> User:
        """Use the invite: its account is created with ``password_hash``. Raises as
        ``usable`` does, and ``Conflict`` if the email has an account by now."""
        now = utcnow()
        claim = (
            update(InviteRow)
            .where(
                InviteRow.token_hash == token_hash(token),
                InviteRow.accepted_at.is_(None),
                InviteRow.expires_at > now,
            )
            .values(accepted_at=now)
            .returning(InviteRow)
        )
        async with self.db.transaction() as session:
            row = await session.scalar(claim)
            if row is None:
                _usable(await session.scalar(_by_token(token)))  # raises, saying why
                raise Conflict("this invite link cannot be used any more")
            if await session.scalar(select(UserRow.id).where(UserRow.email == row.email)):
                raise Conflict(f"there is already an account for {row.email}: sign in instead")
            user = new_user(row.email, password_hash, Role(row.role))
            session.add(user)
        return user_of(user)


def _by_token(token: str) -> Select[InviteRow]:
    return select(InviteRow).where(InviteRow.token_hash == token_hash(token))


def _usable(row: InviteRow | None) -> Invite:
    if row is None:
        raise NotFound("this invite link is not valid: it was revoked, or is mistyped")
    invite = _invite(row)
    if invite.accepted_at is not None:
        raise Conflict("this invite link was already used", {"reason": "used"})
    if invite.expired:
        message = "this invite link has expired: ask for a new one"
        raise Conflict(message, {"reason": "expired"})
    return invite


def _invite(row: InviteRow) -> Invite:
    return Invite(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
    )
