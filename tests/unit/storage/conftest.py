"""A database of each kind for the storage tests: SQLite in a temporary folder, and the
test session's PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}"
    return str(request.getfixturevalue("postgres_url"))
