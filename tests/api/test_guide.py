"""The docs rendered as HTML at ``/guide/<path under docs/>``: public, with GitHub's heading
anchors, links between pages rewritten to ``/guide/...``, and no raw HTML passed through."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tav.api import guide
from tav.api.app import create_app
from tav.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
HREF = re.compile(r'href="([^"]*)"')


@pytest.fixture
async def anonymous(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


def test_the_served_docs_are_the_repository_docs() -> None:
    assert guide.DOCS_DIR.resolve() == DOCS


async def test_a_page_is_rendered_with_its_anchors(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/guide/reference/built-in-nodes.md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<title>Built-in nodes - TAV Engine</title>" in page
    assert '<h3 id="aiagent--agent-v1">' in page  # "### `ai.agent` — Agent (v1)"
    assert "<table>" in page  # GitHub's tables
    # executor.md links to "#the-result-of-tav-run---json", as GitHub names that heading
    executor = (await anonymous.get("/guide/architecture/executor.md")).text
    assert 'id="the-result-of-tav-run---json"' in executor


async def test_links_between_pages_go_to_the_guide(anonymous: httpx.AsyncClient) -> None:
    page = (await anonymous.get("/guide/deployment/quick-start.md")).text
    links = HREF.findall(page)
    assert "/guide/api/rest.md" in links  # written ../api/rest.md
    assert "/guide/deployment/settings.md" in links  # written settings.md
    local = [link for link in links if not link.startswith(("http:", "https:", "#"))]
    for link in local:
        assert link.startswith("/"), link
        target = await anonymous.get(link.split("#")[0])
        assert target.status_code == 200, link
    assert "../../examples/hello.json" not in links  # not served: shown as text
    assert 'title="in the repository: ../../examples/hello.json"' in page


async def test_the_index_and_folders(anonymous: httpx.AsyncClient) -> None:
    index = await anonymous.get("/guide/")
    assert index.status_code == 200
    assert (DOCS / "README.md").read_text().splitlines()[0].lstrip("# ") in index.text
    assert "/guide/deployment/quick-start.md" in HREF.findall(index.text)
    redirected = await anonymous.get("/guide")
    assert redirected.status_code in (301, 302, 307, 308)
    assert redirected.headers["location"] == "/guide/"


async def test_images_of_the_docs_are_served(anonymous: httpx.AsyncClient) -> None:
    page = (await anonymous.get("/guide/guide/editor.md")).text
    [first, *_] = re.findall(r'<img src="([^"]+)"', page)
    assert first.startswith("/guide/guide/")
    assert first.endswith(".png")
    image = await anonymous.get(first)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "path",
    [
        "/guide/nothing.md",
        "/guide/%2e%2e/README.md",
        "/guide/%2e%2e/pyproject.toml",
        "/guide/..%2f..%2fpyproject.toml",
        "/guide/deployment",  # a folder without a README.md
        "/guide/reference/credentials.txt",
    ],
)
async def test_only_the_docs_are_served(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 404
    assert "TAV Engine" in response.text


async def test_raw_html_is_shown_as_text_and_runs_nothing(
    anonymous: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text(
        "# Hostile\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
        "[click](javascript:alert(3)) [data](data:text/html,<b>x</b>)\n"
    )
    monkeypatch.setattr(guide, "DOCS_DIR", docs)
    response = await anonymous.get("/guide/")
    body = response.text.split("<main>", 1)[1]
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img" not in body
    assert 'href="javascript:' not in body
    assert 'href="data:' not in body
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
