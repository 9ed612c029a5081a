"""Fixtures of unit tests that run nodes against real file storage and credentials."""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tav.nodes import discovery
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


@pytest.fixture
def installed_entry_points(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[str, dict[str, str]], None]]:
    """Make the installed packages' entry points these: ``install(group, {"name":
    "module:attr"})``. (Discovery reads them once per process; that reading is reset.)"""

    def install(group: str, values: dict[str, str]) -> None:
        points = [importlib.metadata.EntryPoint(n, v, group) for n, v in values.items()]
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda: points_of(points))
        discovery._installed_entry_points.cache_clear()

    yield install
    discovery._installed_entry_points.cache_clear()


def points_of(points: list[importlib.metadata.EntryPoint]) -> importlib.metadata.EntryPoints:
    return importlib.metadata.EntryPoints(points)
