"""Users, API keys and browser sessions.

Passwords are hashed with scrypt from the standard library (memory-hard, no extra
dependency). API keys and session tokens are random 256-bit secrets, so a plain SHA-256
of them is enough to store: only the hash is kept, never the secret.

A password hash takes ~40 ms of CPU and 16 MiB: it runs on a worker thread (scrypt lets go
of the GIL), never on the event loop, and at most ``hash_concurrency`` at once, so a burst
of logins queues rather than taking every core and thread from the other requests. A login
with an unknown email runs the same scrypt against a dummy hash, so that its answer takes
as long as a wrong password for a real account: the time does not tell which emails exist.

Until the owner account exists, a one-time setup token lets a browser on another machine
create it (``SetupToken``): it is kept in a file of the data dir readable by its user only,
which the server prints at start, and is deleted once the owner exists.

Verified API keys are kept in memory for ``API_KEY_CACHE_TTL_S`` seconds (5), so a request
with a known key costs no database read. Deleting a key through this repository drops it
at once; a key deleted by another process (``tav api-keys delete`` while the server runs)
stops working within those 5 seconds. ``last_used_at`` is written lazily, at most once per
``LAST_USED_EVERY_S`` (a minute) per key, by a background task off the request path.

Every key is a user's and acts with that user's role (``ApiKey.role``, read with the key),
but for a key made before any account existed (``tav api-keys create`` on a new data dir):
it acts as the owner, and becomes the owner's when the owner account is created. A
disabled user's sessions and keys are gone (``tav.storage.users``) and a session or key of
a disabled user is refused all the same; changing a user's role here drops their cached
keys, so it applies to the next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update

from tav.core.events import utcnow
from tav.core.roles import Role
from tav.storage.cache import TTLCache
from tav.storage.db import Database, unreachable
from tav.storage.models import ApiKeyRow, SessionRow, UserRow

logger = logging.getLogger("tav.storage")
API_KEY_PREFIX = "tav_"
API_KEY_CACHE_TTL_S = 5.0
"""How long a verified API key is trusted without asking the database again: the longest
a key deleted by another process keeps working here."""
LAST_USED_EVERY_S = 60.0
"""``last_used_at`` of a key is written at most this often."""
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_DUMMY_HASH = f"scrypt${'00' * 16}${'00' * 64}"
"""Checked against when the email is unknown: the same scrypt work as a real hash."""
SETUP_TOKEN_FILE = "setup-token"
"""The setup token's file in the data dir."""
T = TypeVar("T")


@dataclass(frozen=True)
class User:
    id: str
    email: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    user_id: str | None
    """Whose key it is; ``None`` for a key made before any account existed."""
    role: Role
    """The role the key acts with: its user's (the owner's for a key of nobody)."""
    user_email: str = ""


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


class SetupToken:
    """The one-time token that creating the owner account asks for, in a file of its own.

    The file is the one copy: every server process on the data dir reads the same token,
    and ``tav users create-owner`` deletes it as the server's setup does."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def issue(self) -> str:
        """The token, made on the first call (a new file, mode 0600) and read afterwards."""
        existing = self._read()
        if existing:
            return existing
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        # Written whole to a file of its own (mkstemp: mode 0600), then linked into place:
        # another process never reads a half-written token, and the first link wins.
        fd, draft = tempfile.mkstemp(dir=self.path.parent, prefix=".setup-token-")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(token + "\n")
            os.link(draft, self.path)
        except FileExistsError:
            return self._read()
        finally:
            os.unlink(draft)
        return token

    def matches(self, candidate: str) -> bool:
        stored = self._read()
        return bool(stored) and hmac.compare_digest(stored.encode(), candidate.strip().encode())

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def _read(self) -> str:
        try:
            return self.path.read_text().strip()
        except FileNotFoundError:
            return ""


class AuthRepository:
    def __init__(
        self,
        db: Database,
        *,
        cache_ttl_s: float = API_KEY_CACHE_TTL_S,
        setup_token: SetupToken | None = None,
        hash_concurrency: int = 2,
    ) -> None:
        self.db = db
        self.setup_token = setup_token
        self._hashing = asyncio.Semaphore(hash_concurrency)
        self._keys: TTLCache[str, ApiKey] = TTLCache(cache_ttl_s)
        self._touched: dict[str, float] = {}
        """When this process last wrote ``last_used_at``, by key id (monotonic)."""
        self._touching: set[asyncio.Task[Any]] = set()

    async def has_owner(self) -> bool:
        async with self.db.session() as session:
            return bool(await session.scalar(select(func.count()).select_from(UserRow)))

    async def create_owner(self, email: str, password: str) -> User:
        """Create the owner account; raises ``ValueError`` if one exists. The keys made
        before it become its keys."""
        password_hash = await self.hash(password)
        async with self.db.transaction() as session:
            if await session.scalar(select(func.count()).select_from(UserRow)):
                raise ValueError("an owner account already exists")
            row = new_user(email, password_hash, Role.owner)
            session.add(row)
            await session.flush()
            await session.execute(
                update(ApiKeyRow).where(ApiKeyRow.user_id.is_(None)).values(user_id=row.id)
            )
        self._keys.invalidate()
        if self.setup_token is not None:
            self.setup_token.discard()
        return user_of(row)

    async def create_user(self, email: str, password: str, role: Role) -> User:
        """A new team member (not the owner: ``create_owner``); ``ValueError`` if the
        email is taken or the role is owner."""
        if role is Role.owner:
            raise ValueError("there is one owner: create it with create-owner")
        password_hash = await self.hash(password)
        row = new_user(email, password_hash, role)
        async with self.db.transaction() as session:
            if not await session.scalar(select(UserRow.id).where(UserRow.role == Role.owner)):
                raise ValueError("there is no owner account yet: create it first")
            if await session.scalar(select(UserRow.id).where(UserRow.email == row.email)):
                raise ValueError(f"there is already a user with the email {row.email}")
            session.add(row)
        return user_of(row)

    async def authenticate(self, email: str, password: str) -> User | None:
        """The user with this email and password (disabled or not: the caller says which
        it refuses), or ``None``."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(UserRow).where(UserRow.email == email.strip().lower())
            )
        stored = row.password_hash if row is not None else _DUMMY_HASH
        matches = await self._hash_work(verify_password, password, stored)
        if row is None or not matches:
            return None
        return user_of(row)

    async def hash(self, password: str) -> str:
        """The stored form of ``password``, worked out off the event loop."""
        return await self._hash_work(hash_password, password)

    def forget_user(self, user_id: str) -> None:
        """Drop the cached keys of the user: their role or state changed."""
        self._keys.invalidate_where(lambda key: key.user_id == user_id)

    async def _hash_work(self, work: Callable[..., T], *args: str) -> T:
        """``work`` on a worker thread, at most ``hash_concurrency`` at once."""
        async with self._hashing:
            return await asyncio.to_thread(work, *args)

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
        """The user the session token opens; ``None`` when it is unknown, expired or its
        user is disabled. Read at every request: a new role applies at once."""
        query = (
            select(UserRow)
            .join(SessionRow, SessionRow.user_id == UserRow.id)
            .where(SessionRow.token_hash == _token_hash(token), SessionRow.expires_at >= utcnow())
        )
        async with self.db.session() as session:
            user = await session.scalar(query)
        if user is None or user.disabled_at is not None:
            return None
        return user_of(user)

    async def end_session(self, token: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(SessionRow).where(SessionRow.token_hash == _token_hash(token))
            )

    async def create_api_key(self, name: str, user_id: str | None = None) -> tuple[ApiKey, str]:
        """A new key of the user (default: of the owner, or of nobody while there is no
        account) and its secret, which is shown once and never stored. ``ValueError`` if
        there is no such user, or they are disabled."""
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=uuid.uuid4().hex,
            name=name,
            prefix=secret[:8],
            key_hash=_token_hash(secret),
            created_at=utcnow(),
        )
        async with self.db.transaction() as session:
            if user_id is None:
                owner = select(UserRow).where(UserRow.role == Role.owner).limit(1)
                user = await session.scalar(owner)
            else:
                user = await session.get(UserRow, user_id)
                if user is None or user.disabled_at is not None:
                    raise ValueError(f"no active user with id {user_id!r}")
            row.user_id = user.id if user else None
            session.add(row)
        if user is None:
            return _api_key(row, Role.owner, ""), secret
        return _api_key(row, user.role, user.email), secret

    async def check_api_key(self, secret: str) -> ApiKey | None:
        """The key ``secret`` opens, with the role it acts with, or ``None`` (also for a
        key of a disabled user); notes its use (lazily, in the background)."""
        key_hash = _token_hash(secret)
        key = self._keys.get(key_hash)
        if key is None:
            generation = self._keys.generation()
            query = (
                select(ApiKeyRow, UserRow.role, UserRow.email, UserRow.disabled_at)
                .outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id)
                .where(ApiKeyRow.key_hash == key_hash)
            )
            async with self.db.session() as session:
                found = (await session.execute(query)).first()
            if found is None or found.disabled_at is not None:
                return None
            key = _api_key(found.ApiKeyRow, found.role or Role.owner, found.email or "")
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
        except Exception as exc:  # (in the background: said, not raised)
            trace = not unreachable(exc)  # (the database away or refusing: no bug to trace)
            logger.warning("could not note the use of API key %s: %s", key_id, exc, exc_info=trace)

    async def settle(self) -> None:
        """Wait for the pending ``last_used_at`` writes (before the database closes)."""
        if self._touching:
            await asyncio.gather(*self._touching, return_exceptions=True)

    async def api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        """Every key, oldest first, or the keys of ``user_id``."""
        query = (
            select(ApiKeyRow, UserRow.role, UserRow.email)
            .outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id)
            .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        )
        if user_id is not None:
            query = query.where(ApiKeyRow.user_id == user_id)
        async with self.db.session() as session:
            rows = await session.execute(query)
            return [_api_key(row, role or Role.owner, email or "") for row, role, email in rows]

    async def delete_api_key(self, key_id: str, user_id: str | None = None) -> bool:
        """Revoke the key (only if it is ``user_id``'s, when given) at once."""
        conditions = [ApiKeyRow.id == key_id]
        if user_id is not None:
            conditions.append(ApiKeyRow.user_id == user_id)
        async with self.db.transaction() as session:
            result = await session.execute(delete(ApiKeyRow).where(*conditions))
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        self._keys.invalidate_where(lambda key: key.id == key_id)
        self._touched.pop(key_id, None)
        return True


def new_user(email: str, password_hash: str, role: Role) -> UserRow:
    return UserRow(
        id=uuid.uuid4().hex,
        email=email.strip().lower(),
        password_hash=password_hash,
        role=role.value,
        created_at=utcnow(),
    )


def user_of(row: UserRow) -> User:
    return User(row.id, row.email, Role(row.role), row.created_at, row.disabled_at)


def _api_key(row: ApiKeyRow, role: str, email: str) -> ApiKey:
    return ApiKey(
        row.id,
        row.name,
        row.prefix,
        row.created_at,
        row.last_used_at,
        row.user_id,
        Role(role),
        email,
    )
