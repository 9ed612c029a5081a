"""The team's accounts: list them, change roles, hand over ownership, disable and enable.

Who may do which is the use case's to decide (``tav.app.users``); this module keeps the
rows consistent. Disabling is one transaction: the user is marked disabled and their
sessions and API keys are deleted together, then their cached keys are dropped
(``AuthRepository.forget_user``), so the next request of any of them is refused.
Users are never deleted: executions and versions keep naming them.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from tav.core.events import utcnow
from tav.core.roles import Role
from tav.storage.auth import AuthRepository, User, user_of
from tav.storage.db import Database
from tav.storage.models import ApiKeyRow, SessionRow, UserRow


class UserRepository:
    def __init__(self, db: Database, auth: AuthRepository) -> None:
        self.db = db
        self.auth = auth

    async def all(self) -> list[User]:
        """Every user, the oldest account first."""
        async with self.db.session() as session:
            rows = await session.scalars(select(UserRow).order_by(UserRow.created_at, UserRow.id))
            return [user_of(row) for row in rows]

    async def get(self, user_id: str) -> User | None:
        async with self.db.session() as session:
            row = await session.get(UserRow, user_id)
            return user_of(row) if row else None

    async def by_email(self, email: str) -> User | None:
        query = select(UserRow).where(UserRow.email == email.strip().lower())
        async with self.db.session() as session:
            row = await session.scalar(query)
            return user_of(row) if row else None

    async def emails(self, user_ids: set[str]) -> dict[str, str]:
        """The email of each of these users, by id (those that exist)."""
        if not user_ids:
            return {}
        query = select(UserRow.id, UserRow.email).where(UserRow.id.in_(sorted(user_ids)))
        async with self.db.session() as session:
            return dict((await session.execute(query)).tuples().all())

    async def set_role(self, user_id: str, role: Role) -> User | None:
        """Give the user ``role`` (never owner: ``hand_over``)."""
        if role is Role.owner:
            raise ValueError("the owner's role is handed over, not given")
        user = await self._update(user_id, role=role.value)
        self.auth.forget_user(user_id)
        return user

    async def hand_over(self, owner_id: str, to_id: str) -> User | None:
        """Make ``to_id`` the owner and the owner an admin, in one transaction (there is
        always exactly one owner); ``None`` if either is not what it should be."""
        async with self.db.transaction() as session:
            owner = await session.get(UserRow, owner_id)
            heir = await session.get(UserRow, to_id)
            if owner is None or owner.role != Role.owner or heir is None or heir.disabled_at:
                return None
            owner.role, heir.role = Role.admin.value, Role.owner.value
            await session.flush()
            found = user_of(heir)
        self.auth.forget_user(owner_id)
        self.auth.forget_user(to_id)
        return found

    async def disable(self, user_id: str) -> User | None:
        """Mark the user disabled and delete their sessions and API keys, at once."""
        async with self.db.transaction() as session:
            row = await session.get(UserRow, user_id)
            if row is None:
                return None
            row.disabled_at = row.disabled_at or utcnow()
            await session.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            await session.execute(delete(ApiKeyRow).where(ApiKeyRow.user_id == user_id))
            await session.flush()
            found = user_of(row)
        self.auth.forget_user(user_id)
        return found

    async def enable(self, user_id: str) -> User | None:
        """Let the user sign in again (with new sessions and keys: the old ones are gone)."""
        return await self._update(user_id, disabled_at=None)

    async def _update(self, user_id: str, **values: object) -> User | None:
        statement = update(UserRow).where(UserRow.id == user_id).values(values)
        async with self.db.transaction() as session:
            row = await session.scalar(statement.returning(UserRow))
            return user_of(row) if row else None
