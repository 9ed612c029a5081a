"""The editor at ``/``: built files, the app for every other screen, JSON 404s for the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tav.api import errors, web


def editor_app(directory: Path) -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    web.install(app, directory)
    return app


async def get(app: FastAPI, path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<div id=root></div>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    return tmp_path


async def test_the_app_answers_every_screen(built: Path) -> None:
    app = editor_app(built)
    for path in ("/", "/workflows/0123456789abcdef0123456789abcdef", "/index.html"):
        response = await get(app, path)
        assert response.status_code == 200, path
        assert response.text == "<div id=root></div>"
        assert response.headers["cache-control"] == "no-cache"


async def test_assets_are_served_and_cached_for_good(built: Path) -> None:
    response = await get(editor_app(built), "/assets/index-abc.js")
    assert response.status_code == 200
    assert response.text == "console.log(1)"
    assert "immutable" in response.headers["cache-control"]


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api", "/webhook/x", "/assets/missing.js", "/../pyproject.toml"]
)
async def test_unknown_api_paths_and_files_keep_the_json_404(built: Path, path: str) -> None:
    response = await get(editor_app(built), path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_routes_win_and_other_methods_are_not_the_app(built: Path) -> None:
    app = editor_app(built)
    assert (await get(app, "/api/v1/ping")).json() == {"ok": True}
    assert (await get(app, "/", "POST")).status_code == 404


async def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path) -> None:
    app = editor_app(tmp_path / "missing")
    response = await get(app, "/workflows")
    assert response.status_code == 200
    assert "make web" in response.text
    assert (await get(app, "/api/v1/ping")).status_code == 200
