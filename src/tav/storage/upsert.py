"""INSERT ... ON CONFLICT for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from tav.storage.models import Base


def upsert(dialect: str, model: type[Base], keys: Sequence[str], update: Sequence[str] = ()) -> Any:
    """An insert that, on a key conflict, updates the ``update`` columns (or does nothing).

    Execute it with a list of rows: ``session.execute(upsert(...), rows)`` runs as one
    executemany, much faster for big batches than a multi-VALUES statement.
    """
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(model.__table__)
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
    )
