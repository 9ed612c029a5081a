"""Persistence: SQLAlchemy 2 (async) on SQLite or PostgreSQL, Alembic migrations.

Implements the engine's ports (``ExecutionStore``); ORM rows never leave this package —
repositories return domain models and plain data.
"""

# First of all: the sqlite3 module that can load sqlite-vec (see tav.storage.sqlite).
from tav.storage import sqlite as _sqlite  # noqa: F401
