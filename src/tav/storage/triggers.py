"""What active triggers remember across restarts (``tav.triggers.ports.StateStore``).

Values are JSON, stored as text so that ``swap`` can compare them in SQL on SQLite and
PostgreSQL alike (PostgreSQL's ``json`` type has no equality). Their JSON is written with
sorted keys and no spaces, so equal values are equal texts.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import TriggerStateRow
from tav.storage.upsert import upsert


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class TriggerStateRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, workflow_id: str, node_id: str, key: str) -> Any:
        async with self.db.session() as session:
            value = await session.scalar(
                select(TriggerStateRow.value).where(
                    TriggerStateRow.workflow_id == workflow_id,
                    TriggerStateRow.node_id == node_id,
                    TriggerStateRow.key == key,
                )
            )
        return None if value is None else json.loads(value)

    async def swap(self, workflow_id: str, node_id: str, key: str, expected: Any, new: Any) -> bool:
        """Set ``new`` if the value is ``expected`` (``None``: absent); one statement, so
        two processes never both succeed."""
        row = {
            "workflow_id": workflow_id,
            "node_id": node_id,
            "key": key,
            "value": _text(new),
            "updated_at": utcnow(),
        }
        async with self.db.transaction() as session:
            if expected is None:
                statement = upsert(
                    self.db.dialect, TriggerStateRow, ["workflow_id", "node_id", "key"]
                )
                result = await session.execute(statement, row)
            else:
                result = await session.execute(
                    update(TriggerStateRow)
                    .where(
                        TriggerStateRow.workflow_id == workflow_id,
                        TriggerStateRow.node_id == node_id,
                        TriggerStateRow.key == key,
                        TriggerStateRow.value == _text(expected),
                    )
                    .values(value=row["value"], updated_at=row["updated_at"])
                )
        return bool(result.rowcount)  # type: ignore[attr-defined]
