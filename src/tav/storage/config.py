"""Runtime settings and global variables kept in the database (editable over the API)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import SettingRow, VariableRow
from tav.storage.upsert import upsert


class VariableRepository:
    """Global variables: ``vars.<name>`` in every workflow's templates."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> dict[str, Any]:
        async with self.db.session() as session:
            rows = await session.scalars(select(VariableRow).order_by(VariableRow.name))
            return {row.name: row.value for row in rows}

    async def get(self, name: str) -> tuple[bool, Any]:
        async with self.db.session() as session:
            row = await session.get(VariableRow, name)
            return (True, row.value) if row else (False, None)

    async def put(self, name: str, value: Any) -> None:
        row = {"name": name, "value": value, "updated_at": utcnow()}
        async with self.db.transaction() as session:
            statement = upsert(self.db.dialect, VariableRow, ("name",), ("value", "updated_at"))
            await session.execute(statement, [row])

    async def delete(self, name: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(VariableRow).where(VariableRow.name == name))
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
