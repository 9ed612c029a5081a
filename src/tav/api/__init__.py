"""The HTTP API (FastAPI): translation between HTTP and the server's operations only."""

import sys


def _import_fastapi_deferred() -> None:
    """Import FastAPI with the building of its own Pydantic models deferred to first use.

    FastAPI defines some forty models when imported, most of them describing the OpenAPI
    document (used only to serve ``/openapi.json``); building their validators takes about a
    tenth of the server's start. Pydantic offers ``defer_build`` only per model, and these
    models are not ours, so its default is switched on for the duration of this one import.
    A deferred model builds itself, identically, the first time it is used."""
    if "fastapi" in sys.modules:
        return
    try:
        from pydantic._internal._config import config_defaults
    except ImportError:  # another Pydantic layout: FastAPI builds its models at import
        return
    config_defaults["defer_build"] = True
    try:
        import fastapi  # noqa: F401
    finally:
        config_defaults["defer_build"] = False


_import_fastapi_deferred()
