"""The AI response cache in the database (``tav.ai.cache.ResponseCache``).

Answers are kept in the ``ai_cache`` table under the hash of their request; ``max_age``
bounds how old a reused answer may be, and ``prune`` removes older ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import AICacheRow
from tav.storage.upsert import upsert


class AICacheRepository:
    def __init__(self, db: Database, *, max_age: timedelta | None = None) -> None:
        self.db = db
        self.max_age = max_age

    async def get(self, key: str) -> bytes | None:
        async with self.db.session() as session:
            row = await session.get(AICacheRow, key)
        if row is None:
            return None
        if self.max_age is not None and _aware(row.created_at) < utcnow() - self.max_age:
            return None
        return bytes(row.response)

    async def put(self, key: str, *, provider: str, model: str, response: bytes) -> None:
        row = {
            "key": key,
            "provider": provider[:32],
            "model": model[:200],
            "response": response,
            "created_at": utcnow(),
        }
        statement = upsert(
            self.db.dialect, AICacheRow, ("key",), ("provider", "model", "response", "created_at")
        )
        async with self.db.transaction() as session:
            await session.execute(statement, [row])

    async def prune(self, older_than: timedelta) -> int:
        """Remove answers stored more than ``older_than`` ago; returns how many."""
        cutoff = utcnow() - older_than
        async with self.db.transaction() as session:
            result = await session.execute(delete(AICacheRow).where(AICacheRow.created_at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count(self) -> int:
        async with self.db.session() as session:
            return len((await session.scalars(select(AICacheRow.key))).all())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
