"""The API's reference pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), that work
offline: their scripts and styles are served by the server itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc's fonts from Google),
so a local-first server without internet showed a blank page. The assets come from the
``fastapi-offline`` package, which ships the files of ``swagger-ui-dist`` and ReDoc's
standalone bundle as package data; only its files are used (its ``FastAPIOffline`` would
replace the application class). Swagger UI is also told not to ask the online validator
about the document (``validatorUrl: null``). ReDoc's sidebar always shows Redocly's logo
from their CDN; the pages' Content-Security-Policy keeps the browser from asking for it,
or for anything else that is not on this server.

Rejected: copying the assets from npm in the editor's build (the API docs would then need
Node.js to exist, and a server run from a checkout without it would have none).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
ASSETS_PACKAGE = "fastapi_offline"
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
"""Only this server: Swagger UI's page starts it with an inline script, and both inject
styles; ReDoc runs its search in a worker made from a blob."""


def assets_dir() -> Path:
    """The folder of Swagger UI's and ReDoc's files, found without importing the package."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {ASSETS_PACKAGE} package (the API docs' assets) is missing")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI, title: str) -> None:
    """Add ``/docs``, ``/redoc`` and their assets to an app made with ``docs_url=None`` and
    ``redoc_url=None``."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="api-docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        return _local(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{title} - API reference",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    async def redoc(request: Request) -> HTMLResponse:
        return _local(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{title} - API reference",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)


def _local(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page
