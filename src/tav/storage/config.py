"""Runtime settings and global variables kept in the database (editable over the API).

Every execution reads the global variables, so ``VariableRepository`` keeps them in memory
for ``VARIABLES_CACHE_TTL_S`` seconds and drops them whenever it changes one; the time to
live bounds how long a change made by another process goes unseen here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from tav.core.events import utcnow
from tav.storage.cache import TTLCache
from tav.storage.db import Database
from tav.storage.models import SettingRow, VariableRow
from tav.storage.upsert import upsert

VARIABLES_CACHE_TTL_S = 5.0


class VariableRepository:
    """Global variables: ``vars.<name>`` in every workflow's templates."""

    def __init__(self, db: Database, *, cache_ttl_s: float = VARIABLES_CACHE_TTL_S) -> None:
        self.db = db
        self._cache: TTLCache[None, dict[str, Any]] = TTLCache(cache_ttl_s, max_size=1)

    async def all(self) -> dict[str, Any]:
        """Every variable by name (a fresh dict: the caller may change it)."""
        cached = self._cache.get(None)
        if cached is None:
            generation = self._cache.generation()
            async with self.db.session() as session:
                rows = await session.scalars(select(VariableRow).order_by(VariableRow.name))
                cached = {row.name: row.value for row in rows}
            self._cache.put(None, cached, generation)
        return dict(cached)

    async def get(self, name: str) -> tuple[bool, Any]:
        async with self.db.session() as session:
            row = await session.get(VariableRow, name)
            return (True, row.value) if row else (False, None)

    async def put(self, name: str, value: Any) -> None:
        row = {"name": name, "value": value, "updated_at": utcnow()}
        async with self.db.transaction() as session:
            statement = upsert(self.db.dialect, VariableRow, ("name",), ("value", "updated_at"))
            await session.execute(statement, [row])
        self._cache.invalidate()

    async def delete(self, name: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(VariableRow).where(VariableRow.name == name))
        self._cache.invalidate()
        return bool(result.rowcount)  # type: ignore[attr-defined]


class SettingRepository:
    """Key/value runtime settings (a JSON value per key)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> dict[str, Any]:
        async with self.db.session() as session:
            return {row.key: row.value for row in await session.scalars(select(SettingRow))}

    async def put_many(self, values: dict[str, Any]) -> None:
        rows = [{"key": key, "value": value} for key, value in values.items()]
        if not rows:
            return
        async with self.db.transaction() as session:
            await session.execute(upsert(self.db.dialect, SettingRow, ("key",), ("value",)), rows)
