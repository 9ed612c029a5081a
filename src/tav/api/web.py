"""The editor at ``/``: the single-page app built from ``frontend/`` into ``tav/web``.

It is served by the router's *default* handler, the one Starlette calls when no route
matched. So every API route wins whatever the order routes are added in, and a path under
``/api/`` (or ``/webhook/``) that matches nothing keeps the JSON 404. Any other GET is a
file of the build when there is one, else ``index.html``: the app reads the path itself
(``/workflows/<id>``), so a reload or a shared link opens the same screen.

Rejected: a catch-all route or a mount at ``/`` (either shadows routes added after it),
and a static server of its own (one more process for a local tool). Nothing here is
imported that the API does not import already, so start-up time and memory stay as they
were; without a build, ``/`` says how to make one and the API works as before.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
NOT_APP = ("/api/", "/webhook/")
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite names assets by their content hash
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TAV Engine</title></head>
<body style="font: 15px/1.5 system-ui, sans-serif; max-width: 640px; margin: 10vh auto">
<h1>TAV Engine</h1>
<p>The server is running, but the editor has not been built.</p>
<p>Build it with <code>make web</code> (or <code>cd frontend &amp;&amp; npm ci &amp;&amp;
npm run build</code>), then reload this page. <code>make run</code> builds it too.</p>
<p>The API answers under <a href="/api/v1/auth/status"><code>/api/v1</code></a>;
its reference is at <a href="/docs"><code>/docs</code></a>.</p>
</body></html>
"""


def install(app: FastAPI, directory: Path = WEB_DIR) -> None:
    """Serve the editor in ``directory`` for every GET that no route answers."""
    not_found: ASGIApp = app.router.default
    static = StaticFiles(directory=directory, check_dir=False)

    async def editor(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or path.startswith(NOT_APP)
            or path in ("/api", "/webhook")
        ):
            await not_found(scope, receive, send)
        else:
            response = await _response(static, directory, path, scope)
            await (response or not_found)(scope, receive, send)

    app.router.default = editor


async def _response(
    static: StaticFiles, directory: Path, path: str, scope: Scope
) -> Response | None:
    index = directory / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT)
    relative = path.lstrip("/")
    if relative and relative != "index.html":
        try:
            response = await static.get_response(relative, scope)
        except HTTPException:
            pass
        else:
            if relative.startswith("assets/"):
                response.headers["Cache-Control"] = IMMUTABLE
            return response
        if "." in relative.rsplit("/", 1)[-1]:
            return None  # a missing file, not a screen of the app
    return FileResponse(index, headers={"Cache-Control": "no-cache"})
