"""The project's documentation (the Markdown of ``docs/``), rendered as HTML at ``/guide/``.

``/guide/reference/built-in-nodes.md`` is ``docs/reference/built-in-nodes.md``; ``/guide/``
is the index, ``docs/README.md``. The pages are public, as the editor's files are: they
hold nothing of the installation. The editor links node descriptions' ``docs/...`` paths
here, so this URL scheme is kept as it is.

The Markdown comes from ``tav/docs``: in a checkout a link to the repository's ``docs/``,
in a wheel a copy (package data). It is rendered with markdown-it-py (CommonMark, with
GitHub's tables and strikethrough) with raw HTML off, so a page shows its HTML as text;
markdown-it refuses ``javascript:`` and ``data:`` links itself. Headings get GitHub's
anchors (``#the-result-of-tav-run---json``), so links with a fragment land where they do
on GitHub. Links between pages are rewritten to ``/guide/...``; a link out of ``docs/``
(``../../examples/hello.json``) is kept as text, since the server does not serve the
repository. Pages carry a Content-Security-Policy that allows no script at all.

The renderer is imported on the first page asked for, not at start-up, and each page is
rendered once per change of its file.

Rejected: serving the editor a JSON of the Markdown to render in the browser (a second
Markdown renderer to keep safe, and no page without the editor's JavaScript); Python-
Markdown (passes raw HTML through unless a sanitizer is added after it).
"""

from __future__ import annotations

import html
import posixpath
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

PREFIX = "/guide"
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"
INDEX = "README.md"
IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
STYLE = """
body { font: 16px/1.6 system-ui, sans-serif; color: #1f2328; margin: 0; }
nav { padding: 10px 24px; border-bottom: 1px solid #d0d7de; font-size: 14px; }
nav a { margin-right: 16px; }
main { max-width: 860px; margin: 0 auto; padding: 8px 24px 64px; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
code, pre { font: 13.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; }
pre { background: #f6f8fa; padding: 12px 16px; overflow: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; display: block; overflow: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; vertical-align: top; }
img { max-width: 100%; }
h1, h2 { border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
"""
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - TAV Engine</title><style>{style}</style></head>
<body><nav><a href="/guide/">Documentation</a><a href="/">Editor</a>
<a href="/docs">API reference</a></nav>
<main>{body}</main></body></html>
"""

router = APIRouter(include_in_schema=False)


@router.get(PREFIX)
async def guide_root() -> Response:
    return RedirectResponse(f"{PREFIX}/")


@router.get(PREFIX + "/{path:path}")
async def guide_page(path: str) -> Response:
    """A page of the docs rendered as HTML, or an image they show."""
    file = _find(path)
    if file is None:
        return _page(
            "Not found", "<h1>Not found</h1><p>No such page in the documentation.</p>", 404
        )
    if file.suffix in IMAGES:
        return FileResponse(file, media_type=IMAGES[file.suffix], headers=HEADERS)
    relative = file.relative_to(DOCS_DIR.resolve()).as_posix()
    title, body = _render(file, file.stat().st_mtime_ns, relative)
    return _page(title, body)


def _find(path: str) -> Path | None:
    """The file ``path`` names under the docs (a folder's README.md), if it is one served."""
    root = DOCS_DIR.resolve()
    try:
        candidate = (root / path).resolve()
        if candidate.is_dir():
            candidate = candidate / INDEX
        found = candidate.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return None
    if not found or not candidate.is_relative_to(root):
        return None
    return candidate if candidate.suffix == ".md" or candidate.suffix in IMAGES else None


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = PAGE.format(title=html.escape(title), style=STYLE, body=body)
    return HTMLResponse(text, status_code=status, headers=HEADERS)


@lru_cache(maxsize=128)
def _render(file: Path, mtime_ns: int, relative: str) -> tuple[str, str]:
    """(the page's title, its HTML); ``mtime_ns`` renders it again when the file changes."""
    markdown = _markdown()
    tokens = markdown.parse(file.read_text(encoding="utf-8"))
    _rewrite_links(tokens, relative)
    title = next(
        (
            tokens[i + 1].content.replace("`", "")
            for i, t in enumerate(tokens)
            if t.type == "heading_open"
        ),
        relative,
    )
    return title, markdown.renderer.render(tokens, markdown.options, {})


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin

    # "js-default": CommonMark with tables and strikethrough, and no raw HTML.
    markdown = MarkdownIt("js-default", {"html": False})
    return markdown.use(anchors_plugin, min_level=1, max_level=6)


def _rewrite_links(tokens: list[Token], page: str) -> None:
    for token in tokens:
        for child in token.children or ():
            attribute = {"link_open": "href", "image": "src"}.get(child.type)
            if attribute is None:
                continue
            target = _target(str(child.attrGet(attribute) or ""), page)
            if target is not None:
                child.attrSet(attribute, target)
            elif child.type == "link_open":
                _unlink(child, token.children or [])


def _target(href: str, page: str) -> str | None:
    """Where a link of ``page`` goes: relative paths within the docs become ``/guide/...``;
    ``None`` for one that leaves the docs."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("#", "/")) or not parts.path:
        return href
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page), parts.path))
    if resolved == ".." or resolved.startswith("../"):
        return None
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{PREFIX}/{'' if resolved == '.' else resolved}{fragment}"


def _unlink(link_open: Token, siblings: list[Token]) -> None:
    """Render a link that leaves the docs as its text, with the path in a tooltip (links
    do not nest, so the first ``link_close`` after it is its end)."""
    path = str(link_open.attrGet("href"))
    link_open.tag, link_open.attrs = "span", {"title": f"in the repository: {path}"}
    start = next(i for i, token in enumerate(siblings) if token is link_open)
    next(token for token in siblings[start:] if token.type == "link_close").tag = "span"
