"""Persistence: SQLAlchemy 2 (async) on SQLite or PostgreSQL, Alembic migrations.

Implements the engine's ports (``ExecutionStore``); ORM rows never leave this package —
repositories return domain models and plain data.
"""
