"""Answers cached before the cache redacted secrets are deleted on upgrade, and on SQLite
their bytes do not stay behind in the file's freed pages."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from tav.core.events import utcnow
from tav.storage.db import Database, alembic_config

PLAINTEXT = b'{"text": "your key is sk-plaintext-0123456789abcdef"}' * 20


def _upgrade_to(revision: str) -> object:
    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


async def test_the_upgrade_deletes_every_cached_answer_and_overwrites_it(tmp_path: Path):
    path = tmp_path / "tav.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade_to("0007"))
        await connection.execute(
            text(
                "INSERT INTO ai_cache (key, provider, model, response, created_at) "
                "VALUES ('k', 'openai', 'm', :response, :now)"
            ),
            {"response": PLAINTEXT, "now": utcnow()},
        )
    await db.reclaim_space()  # the row is in the file itself, not only in the WAL
    assert b"sk-plaintext" in path.read_bytes()

    await db.migrate()
    await db.reclaim_space()

    async with db.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM ai_cache")) == 0
    await db.close()
    assert b"sk-plaintext" not in path.read_bytes()
