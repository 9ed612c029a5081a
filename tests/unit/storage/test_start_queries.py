"""What every start reads: the unfinished executions, through the status index, however
many executions the database holds (SQLite keeps no statistics: left to itself, it took
the parent_id index for ``parent_id IS NULL`` and read every top-level execution)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from tav.core.modes import ExecutionMode
from tav.storage.db import Database
from tav.storage.executions import (
    detached_unfinished_query,
    owned_unfinished_query,
    unfinished_query,
)


@pytest.mark.parametrize(
    "query",
    [unfinished_query((ExecutionMode.CLI,)), owned_unfinished_query(), detached_unfinished_query()],
    ids=["unfinished", "owned_unfinished", "detached_unfinished"],
)
async def test_the_start_finds_unfinished_executions_through_the_status_index(
    tmp_path: Path, query: object
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    try:
        await db.migrate()
        sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
        async with db.engine.connect() as connection:
            plan = (await connection.execute(text("EXPLAIN QUERY PLAN " + sql))).all()
    finally:
        await db.close()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_executions_status_started" in details, details
