"""INSERT ... ON CONFLICT for SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import Any

from tav.storage.models import Base


def upsert(dialect: str, model: type[Base], keys: Sequence[str], update: Sequence[str] = ()) -> Any:
    """An insert that, on a key conflict, updates the ``update`` columns (or does nothing).

    Execute it with a list of rows: ``session.execute(upsert(...), rows)`` runs as one
    executemany, much faster for big batches than a multi-VALUES statement. Statements are
    built once per shape and reused (building ``excluded`` costs about a millisecond).
    """
    return _upsert(dialect, model, tuple(keys), tuple(update))


@functools.cache
def _upsert(dialect: str, model: type[Base], keys: tuple[str, ...], update: tuple[str, ...]) -> Any:
    # Imported when first used: the PostgreSQL dialect alone costs ~50 ms of start-up.
    module: Any = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
    statement = module.insert(model.__table__)
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
    )
