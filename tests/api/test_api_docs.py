"""``/docs`` (Swagger UI) and ``/redoc`` work offline: every script, style and icon their
pages load is served by the server itself, and the pages take no credentials."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tav.api.app import create_app
from tav.settings import Settings

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
URL_IN_SCRIPT = re.compile(r"""["'](?:https?:)?//[^"']+["']""")


@pytest.fixture
async def anonymous(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.mark.parametrize(
    ("page", "kinds"),
    [
        ("/docs", {"javascript", "css", "png"}),
        ("/redoc", {"javascript", "png"}),
    ],
)
async def test_the_api_docs_load_only_what_the_server_serves(
    anonymous: httpx.AsyncClient, page: str, kinds: set[str]
) -> None:
    response = await anonymous.get(page)
    assert response.status_code == 200
    assert "/openapi.json" in response.text
    assets = ASSET.findall(response.text)
    assert assets, response.text
    assert URL_IN_SCRIPT.findall(response.text) == []  # no CDN, no Google fonts
    served = set()
    for asset in assets:
        assert re.match(r"/[^/]", asset), asset  # a path on this server
        loaded = await anonymous.get(asset)
        assert loaded.status_code == 200, asset
        assert len(loaded.content) > 1000, asset  # the real file, not a placeholder
        kind = loaded.headers["content-type"].split(";")[0].split("/")[1]
        served.add(kind.removeprefix("x-"))
    assert served == kinds


async def test_swagger_ui_does_not_ask_the_online_validator(anonymous: httpx.AsyncClient):
    response = await anonymous.get("/docs")
    assert '"validatorUrl": null' in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_browser_is_kept_from_loading_anything_else(
    anonymous: httpx.AsyncClient, page: str
) -> None:
    """ReDoc's sidebar asks for Redocly's logo on their CDN: the policy blocks it."""
    policy = (await anonymous.get(page)).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert "http" not in policy


async def test_the_openapi_document_they_read_is_public(anonymous: httpx.AsyncClient):
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "TAV Engine"
