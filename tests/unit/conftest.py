"""Fixtures of unit tests that run nodes against real file storage and credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tav.storage.db import Database
from tav.storage.files import FileStore
from tests.fakes.secrets import MemorySecrets


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[FileStore]:
    """A ``FileStore`` over a new SQLite database and files dir under ``tmp_path``."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    await db.migrate()
    yield FileStore(db, tmp_path / "files")
    await db.close()


@pytest.fixture
def memory_secrets() -> MemorySecrets:
    return MemorySecrets()
