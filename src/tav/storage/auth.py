"""Users, API keys and browser sessions.

Passwords are hashed with scrypt from the standard library (memory-hard, no extra
dependency). API keys and session tokens are random 256-bit secrets, so a plain SHA-256
of them is enough to store: only the hash is kept, never the secret.

Verified API keys are kept in memory for ``API_KEY_CACHE_TTL_S`` seconds (5), so a request
with a known key costs no database read. Deleting a key through this repository drops it
at once; a key deleted by another process (``tav api-keys delete`` while the server runs)
stops working within those 5 seconds. ``last_used_at`` is written lazily, at most once per
``LAST_USED_EVERY_S`` (a minute) per key, by a background task off the request path.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from tav.core.events import utcnow
from tav.storage.cache import TTLCache
from tav.storage.db import Database
from tav.storage.models import ApiKeyRow, SessionRow, UserRow

logger = logging.getLogger("tav.storage")
API_KEY_PREFIX = "tav_"
API_KEY_CACHE_TTL_S = 5.0
"""How long a verified API key is trusted without asking the database again: the longest
a key deleted by another process keeps working here."""
LAST_USED_EVERY_S = 60.0
"""``last_used_at`` of a key is written at most this often."""
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
    def __init__(self, db: Database, *, cache_ttl_s: float = API_KEY_CACHE_TTL_S) -> None:
        self.db = db
        self._keys: TTLCache[str, ApiKey] = TTLCache(cache_ttl_s)
        self._touched: dict[str, float] = {}
        """When this process last wrote ``last_used_at``, by key id (monotonic)."""
        self._touching: set[asyncio.Task[Any]] = set()

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
        """The key ``secret`` opens, or ``None``; notes its use (lazily, in the background)."""
        key_hash = _token_hash(secret)
        key = self._keys.get(key_hash)
        if key is None:
            generation = self._keys.generation()
            async with self.db.session() as session:
                row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash))
            if row is None:
                return None
            key = _api_key(row)
            self._keys.put(key_hash, key, generation)
        self._note_use(key)
        return key

    def _note_use(self, key: ApiKey) -> None:
        now = time.monotonic()
        last = self._touched.get(key.id)
        if last is not None and now - last < LAST_USED_EVERY_S:
            return
        self._touched[key.id] = now
        task = asyncio.ensure_future(self._touch(key.id))
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def _touch(self, key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=utcnow())
                )
        except Exception:
            logger.warning("could not note the use of API key %s", key_id, exc_info=True)

    async def settle(self) -> None:
        """Wait for the pending ``last_used_at`` writes (before the database closes)."""
        if self._touching:
            await asyncio.gather(*self._touching, return_exceptions=True)

    async def api_keys(self) -> list[ApiKey]:
        async with self.db.session() as session:
            rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            return [_api_key(row) for row in rows]

    async def delete_api_key(self, key_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(ApiKeyRow).where(ApiKeyRow.id == key_id))
        self._keys.invalidate_where(lambda key: key.id == key_id)
        self._touched.pop(key_id, None)
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.id, row.name, row.prefix, row.created_at, row.last_used_at)
