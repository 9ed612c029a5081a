"""Content that callers or users control, served on the editor's origin, never runs as a
page of it: a webhook's custom answer and file downloads carry
``Content-Security-Policy: sandbox`` and ``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tests.api.triggers import http_server
from tests.helpers import document, node

PAGE = "<script>fetch('/api/v1/credentials').then(r => r.text()).then(alert)</script>"


async def echo_hook(server: Server, headers: dict[str, Any]) -> None:
    """``GET /webhook/echo?html=...`` answers the caller's text with these headers."""
    doc = document(
        node(
            "hook",
            "trigger.webhook",
            params={"path": "echo", "methods": ["GET"], "respond": "when_done",
                    "response": "custom"},
        ),
        node(
            "result",
            "core.output",
            params={"value": {"headers": headers, "body": "{{ trigger.query.html }}"}},
        ),
        links=("hook -> result",),
    )  # fmt: skip
    workflow = await server.parts.workflows.create(doc)
    await server.parts.triggers.activate(workflow.id)


async def test_a_custom_webhook_answer_is_sandboxed(
    client: httpx.AsyncClient, server: Server
) -> None:
    await echo_hook(server, {"Content-Type": "text/html"})

    response = await client.get("/webhook/echo", params={"html": PAGE})

    assert response.status_code == 200, response.text
    assert response.text == PAGE
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_workflow_cannot_lift_the_sandbox(
    client: httpx.AsyncClient, server: Server
) -> None:
    await echo_hook(
        server,
        {
            "Content-Type": "text/html",
            "Content-Security-Policy": "default-src 'self'",
            "X-Content-Type-Options": "sniff-away",
        },
    )

    response = await client.get("/webhook/echo", params={"html": PAGE})

    # Both policies are enforced: the workflow's own, and the sandbox.
    assert response.headers["content-security-policy"] == "default-src 'self', sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", PAGE.encode()),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ],
)
async def test_downloads_of_html_and_svg_are_sandboxed(
    client: httpx.AsyncClient, name: str, content: bytes
) -> None:
    uploaded = await client.post("/api/v1/files", files={"file": (name, content, "text/html")})
    assert uploaded.status_code == 201, uploaded.text

    response = await client.get(uploaded.json()["url"])

    assert response.content == content
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Note": "{{ trigger.query.html }}"},  # the caller's text, CR LF included
        {"X-Bad Name": "1"},
        {"X-Note": "日本"},  # not Latin-1: not a header value
        {"Set-Cookie": "tav_session=chosen-by-the-caller; Path=/"},
        {"Transfer-Encoding": "chunked", "Connection": "close"},
    ],
)
async def test_a_custom_answer_sends_only_headers_that_are_safe_to_send(
    server: Server, headers: dict[str, Any]
) -> None:
    """Over a real HTTP server (whose protocol layer refuses a header with CR LF): such a
    header, a malformed one, a cookie for the editor's origin and hop-by-hop headers are
    left out; the answer itself goes out."""
    await echo_hook(server, {"Content-Type": "text/plain", **headers})
    async with http_server(server) as url, httpx.AsyncClient(base_url=url) as web:
        response = await web.get(
            "/webhook/echo", params={"html": "ok\r\nSet-Cookie: tav_session=planted"}
        )

    assert response.status_code == 200, response.text
    assert response.text == "ok\r\nSet-Cookie: tav_session=planted"
    assert "set-cookie" not in response.headers
    assert "x-bad name" not in response.headers
    assert response.headers.get("x-note") in (None, "")
    assert response.headers.get("connection") != "close"
