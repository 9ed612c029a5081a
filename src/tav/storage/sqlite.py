"""The ``sqlite3`` module TAV Engine uses, and the extensions every connection loads.

Vector search runs in SQLite through the sqlite-vec extension, and loading an extension
needs a ``sqlite3`` built with ``--enable-loadable-sqlite-extensions``. Some Pythons
(pyenv's default builds among them) lack it: ``Connection.enable_load_extension`` is
missing. There, when the ``pysqlite3`` package (``pysqlite3-binary``: the same module
with a bundled, recent SQLite) is installed, it takes the place of ``sqlite3`` in
``sys.modules``.

It must do so before anything imports ``sqlite3``: aiosqlite copies the exception
classes at import, and SQLAlchemy's SQLite dialects take ``sqlite3`` from there, so a
module installed later would raise errors (``IntegrityError``, ...) that SQLAlchemy does
not recognise. Hence ``tav.storage`` imports this module first of all. Without either,
everything still works, and vector search ranks in Python (``tav.storage.vectors``).

Rejected: loading the extension through aiosqlite's thread (the connections here are
``inline_sqlite``'s), and a separate database connection for vectors (two ways to talk to
one database).
"""

from __future__ import annotations

import importlib
import sqlite3 as _stdlib_sqlite3
import sys
from types import ModuleType
from typing import Any


def _module() -> ModuleType:
    if hasattr(_stdlib_sqlite3.Connection, "enable_load_extension"):
        return _stdlib_sqlite3
    try:
        dbapi2 = importlib.import_module("pysqlite3.dbapi2")
        package = importlib.import_module("pysqlite3")
    except ImportError:
        return _stdlib_sqlite3
    sys.modules["sqlite3"] = package
    sys.modules["sqlite3.dbapi2"] = dbapi2
    return package


sqlite3: Any = _module()
"""The ``sqlite3`` module in use (the standard library's, or ``pysqlite3``)."""


def load_extensions(connection: Any) -> bool:
    """Load sqlite-vec into a new connection; False when this ``sqlite3`` cannot load
    extensions or sqlite-vec is not installed."""
    if not hasattr(connection, "enable_load_extension"):
        return False
    try:
        import sqlite_vec  # type: ignore[import-untyped]
    except ImportError:
        return False
    connection.enable_load_extension(True)
    try:
        sqlite_vec.load(connection)
    finally:
        connection.enable_load_extension(False)
    return True
