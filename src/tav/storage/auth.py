"""Users, API keys and browser sessions.

Passwords are hashed with scrypt from the standard library (memory-hard, no extra
dependency). API keys and session tokens are random 256-bit secrets, so a plain SHA-256
of them is enough to store: only the hash is kept, never the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import ApiKeyRow, SessionRow, UserRow

API_KEY_PREFIX = "tav_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    id: str
    email: str
    role: str


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def has_owner(self) -> bool:
        async with self.db.session() as session:
            return bool(await session.scalar(select(func.count()).select_from(UserRow)))

    async def create_owner(self, email: str, password: str) -> User:
        """Create the owner account; raises ``ValueError`` if one exists."""
        async with self.db.transaction() as session:
            if await session.scalar(select(func.count()).select_from(UserRow)):
                raise ValueError("an owner account already exists")
            row = UserRow(
                id=uuid.uuid4().hex,
                email=email.strip().lower(),
                password_hash=hash_password(password),
                role="owner",
                created_at=utcnow(),
            )
            session.add(row)
        return User(row.id, row.email, row.role)

    async def authenticate(self, email: str, password: str) -> User | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(UserRow).where(UserRow.email == email.strip().lower())
            )
        if row is None or not verify_password(password, row.password_hash):
            return None
        return User(row.id, row.email, row.role)

    async def create_session(self, user: User, ttl: timedelta) -> str:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
            session.add(
                SessionRow(
                    token_hash=_token_hash(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def session_user(self, token: str) -> User | None:
        async with self.db.session() as session:
            row = await session.get(SessionRow, _token_hash(token))
            if row is None or row.expires_at < utcnow():
                return None
            user = await session.get(UserRow, row.user_id)
        return User(user.id, user.email, user.role) if user else None

    async def end_session(self, token: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(SessionRow).where(SessionRow.token_hash == _token_hash(token))
            )

    async def create_api_key(self, name: str) -> tuple[ApiKey, str]:
        """A new key and its secret, which is shown once and never stored."""
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=uuid.uuid4().hex,
            name=name,
            prefix=secret[:8],
            key_hash=_token_hash(secret),
            created_at=utcnow(),
        )
        async with self.db.transaction() as session:
            session.add(row)
        return _api_key(row), secret

    async def check_api_key(self, secret: str) -> ApiKey | None:
        async with self.db.transaction() as session:
            row = await session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.key_hash == _token_hash(secret))
            )
            if row is None:
                return None
            row.last_used_at = utcnow()
        return _api_key(row)

    async def api_keys(self) -> list[ApiKey]:
        async with self.db.session() as session:
            rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            return [_api_key(row) for row in rows]

    async def delete_api_key(self, key_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(ApiKeyRow).where(ApiKeyRow.id == key_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.id, row.name, row.prefix, row.created_at, row.last_used_at)
