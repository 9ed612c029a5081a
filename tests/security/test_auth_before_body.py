"""Credentials are checked before a body is read: an anonymous request to a protected
route gets its 401 without the server reading, parsing or storing a byte of its body.

The app is called as ASGI directly, with a ``receive`` that counts the body bytes it
hands out: that is what "not read" means, whatever the middleware and the routes do.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message

from tav.api.app import create_app
from tav.app.server import Server

MIB = 1024 * 1024
CHUNK = 64 * 1024
OWNER = {"email": "owner@example.com", "password": "correct horse"}


@dataclass
class Call:
    status: int = 0
    body: bytes = b""
    read: int = 0
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


async def call(
    app: FastAPI,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> Call:
    """One request through the app's ASGI interface, its body handed out in chunks."""
    result = Call()
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    sent_headers = {"host": "localhost", "content-length": str(len(body)), **headers}
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> Message:
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        result.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    start = time.perf_counter()
    await app(scope, receive, send)
    result.seconds = time.perf_counter() - start
    return result


@pytest.fixture
def app(server: Server) -> FastAPI:
    return create_app(server.settings, server=server)


def big_json() -> bytes:
    # Every kind of work the body could cost: size, and escapes the surrogate check parses.
    text = '{"schema": 1, "name": "x", "nodes": [], "pad": "' + "\\ud800" * (MIB // 6)
    return (text + "x" * (16 * MIB - len(text) - 2) + '"}').encode()


def multipart(size: int) -> tuple[bytes, str]:
    boundary = "tavboundary0123456789"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + b"\0" * size + f"\r\n--{boundary}--\r\n".encode(), boundary


@pytest.mark.parametrize(
    "credentials",
    [{}, {"authorization": "Bearer tav_not_a_key"}, {"cookie": "tav_session=ended"}],
    ids=["none", "wrong key", "ended session"],
)
async def test_a_16_mib_json_body_without_credentials_is_refused_unread(
    app: FastAPI, credentials: dict[str, str]
) -> None:
    body = big_json()
    assert len(body) == 16 * MIB
    headers = {"content-type": "application/json", **credentials}
    answer = await call(app, "POST", "/api/v1/workflows", body, headers)
    assert answer.status == 401
    assert json.loads(answer.body)["error"]["code"] == "unauthorized"
    assert answer.read == 0
    assert answer.seconds < 0.5


async def test_a_multipart_upload_without_credentials_stores_nothing(
    app: FastAPI, server: Server
) -> None:
    body, boundary = multipart(5 * MIB)
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    answer = await call(app, "POST", "/api/v1/files", body, headers)
    assert answer.status == 401
    assert answer.read == 0
    files = server.settings.data_dir / "files"
    assert not files.exists() or not any(path.is_file() for path in files.rglob("*"))
    assert (await server.parts.files.find(limit=10))[1] == 0


async def test_with_credentials_the_body_is_read_as_before(app: FastAPI, server: Server) -> None:
    _, key = await server.parts.auth.create_api_key("tests")
    checks = 0
    check = server.parts.auth.check_api_key

    async def counted(secret: str) -> Any:
        nonlocal checks
        checks += 1
        return await check(secret)

    server.parts.auth.check_api_key = counted  # type: ignore[method-assign]
    flow = {"schema": 1, "name": "x", "nodes": [{"id": "start", "type": "trigger.manual"}]}
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    stored = await call(app, "POST", "/api/v1/workflows", json.dumps(flow).encode(), headers)
    assert stored.status == 201, stored.body
    assert checks == 1  # the key is looked up once per request, not again by the route
    body, boundary = multipart(1000)
    headers = {**headers, "content-type": f"multipart/form-data; boundary={boundary}"}
    uploaded = await call(app, "POST", "/api/v1/files", body, headers)
    assert uploaded.status == 201, uploaded.body
    assert json.loads(uploaded.body)["size"] == 1000


async def test_a_signed_in_browser_uploads_from_its_own_origin(
    app: FastAPI, server: Server
) -> None:
    await server.parts.auth.create_owner(OWNER["email"], OWNER["password"])
    login = await call(
        app,
        "POST",
        "/api/v1/auth/login",
        json.dumps(OWNER).encode(),
        {"content-type": "application/json"},
    )
    assert login.status == 200
    cookie = login.headers["set-cookie"].split(";")[0]
    body, boundary = multipart(1000)
    headers = {
        "content-type": f"multipart/form-data; boundary={boundary}",
        "cookie": cookie,
        "origin": "http://localhost",
    }
    uploaded = await call(app, "POST", "/api/v1/files", body, headers)
    assert uploaded.status == 201, uploaded.body


async def test_the_sign_in_routes_take_small_bodies_only(app: FastAPI) -> None:
    body = json.dumps({**OWNER, "pad": "x" * MIB}).encode()
    answer = await call(
        app, "POST", "/api/v1/auth/login", body, {"content-type": "application/json"}
    )
    assert answer.status == 413
    assert answer.read == 0
