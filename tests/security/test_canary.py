"""A canary secret, stored as credentials of every kind that sends one somewhere, used by
workflows through every such service, must never show up outside the service it is sent
to: not in API responses, event streams, logs, ``tav run`` output, nor anywhere in the
data dir (the SQLite file, its WAL, files/, every column of every table, compressed
blobs decompressed) — in plain, percent-encoded, JSON-escaped or base64 form.

The services are fakes on 127.0.0.1 that answer with the secret they were sent (a model
repeating the key, a Discord webhook or Slack answer quoting the token, a server echoing
the Authorization header), and one that fails with it in its error message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import urllib.parse
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import inspect, text
from werkzeug import Request, Response

from tav.app.server import Server
from tav.services.mail import SmtpMailer
from tav.settings import Settings
from tests.api.helpers import run_to_end, start, stored
from tests.fakes.llm import FakeProviders, Reply
from tests.fakes.smtp import SmtpServer
from tests.fakes.tls import Certificate, self_signed
from tests.helpers import document, node

WEBHOOK_ID = "123456789012345678"
BROKEN_WEBHOOK_ID = "223456789012345678"


PREFIX = "tavcanary"


@dataclass(frozen=True)
class Canaries:
    """One canary per credential, so that each kind's redaction is checked on its own
    (one shared value would be redacted through whichever kind handles it)."""

    llm: str
    discord: str
    slack: str
    telegram: str
    smtp: str
    basic: str

    @classmethod
    def new(cls) -> Canaries:
        def one(special: str = "") -> str:
            return f"{PREFIX}{uuid.uuid4().hex}{special}"

        # Passwords hold characters that percent-encoding and JSON escape.
        return cls(one(), one(), one(), one(), one('+/"&='), one('+/"&='))


@pytest.fixture
def canaries() -> Canaries:
    return Canaries.new()


@pytest.fixture
def httpserver(httpserver_ipv4: HTTPServer) -> HTTPServer:
    return httpserver_ipv4


@pytest.fixture
def settings(settings: Settings, httpserver: HTTPServer) -> Settings:
    return settings.model_copy(
        update={
            "slack_api_url": httpserver.url_for("/slack/api"),
            "telegram_api_url": httpserver.url_for("/telegram"),
        }
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(certificate: Certificate, canaries: Canaries, server: Server) -> Iterator[SmtpServer]:
    """An SMTP server wanting the password over STARTTLS; the server trusts its
    certificate."""
    mailer = SmtpMailer(timeout_s=5, tls_context=certificate.client_context())
    server.parts.executor.services = replace(server.parts.executor.services, mailer=mailer)
    with SmtpServer(
        security="starttls", certificate=certificate, username="robot", password=canaries.smtp
    ) as fake:
        yield fake


def forms(secret: str) -> dict[str, str]:
    """The ways ``secret`` could be written down: plain, percent-encoded, JSON-escaped and
    base64 (standard and URL-safe, at each byte alignment)."""
    found = {
        "plain": secret,
        "percent-encoded": urllib.parse.quote(secret, safe=""),
        "form-encoded": urllib.parse.quote_plus(secret),
        "JSON-escaped": json.dumps(secret)[1:-1],
    }
    for offset in range(3):
        data = b"\0" * offset + secret.encode()
        end = len(data) // 3 * 4
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            found[f"{name}+{offset}"] = encode(data).decode()[4 if offset else 0 : end]
    return found


class Hits:
    """Where a canary showed up, in which form; the bare prefix too, which finds part of
    a canary (a secret cut short is not redacted)."""

    def __init__(self, canaries: Canaries) -> None:
        self.forms = {
            f"{name} of the {which} canary": form
            for which, secret in asdict(canaries).items()
            for name, form in forms(secret).items()
        }
        self.forms["the canary prefix"] = PREFIX
        self.found: list[str] = []

    def scan(self, where: str, data: str | bytes) -> None:
        raw = data if isinstance(data, bytes) else data.encode()
        for name, form in self.forms.items():
            if form.encode() in raw:
                self.found.append(f"{name} in {where}")


async def credential(client: httpx.AsyncClient, kind: str, **data: Any) -> str:
    response = await client.post(
        "/api/v1/credentials",
        json={"name": f"{kind} {uuid.uuid4().hex[:6]}", "kind": kind, "data": data},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def echo_headers(request: Request) -> Response:
    return Response(
        json.dumps({"headers": dict(request.headers)}), 200, {"Content-Type": "application/json"}
    )


def refuse_with_headers(request: Request) -> Response:
    body = f"bad credentials: {request.headers.get('Authorization')}"
    return Response(body, 401, {"Content-Type": "text/plain"})


def serve_services(httpserver: HTTPServer, canaries: Canaries) -> None:
    """Fake Discord, Slack and Telegram APIs and an echoing server, each answering with the
    secret it was sent."""
    token = canaries.discord
    httpserver.expect_request(
        f"/api/webhooks/{WEBHOOK_ID}/{token}", method="POST"
    ).respond_with_json({"id": "1", "webhook_id": WEBHOOK_ID, "token": token, "content": "hi"})
    httpserver.expect_request(
        f"/api/webhooks/{BROKEN_WEBHOOK_ID}/{token}", method="POST"
    ).respond_with_json({"message": "Invalid Webhook Token", "token": token}, status=401)
    httpserver.expect_request("/slack/api/chat.postMessage").respond_with_json(
        {"ok": True, "channel": "C1", "ts": "1.1", "message": {"text": f"xoxb-{canaries.slack}"}}
    )
    httpserver.expect_request(
        f"/telegram/bot123456:{canaries.telegram}/sendMessage"
    ).respond_with_json({"ok": True, "result": {"message_id": 1, "text": canaries.telegram}})
    httpserver.expect_request("/echo").respond_with_handler(echo_headers)
    httpserver.expect_request("/refuse").respond_with_handler(refuse_with_headers)


def webhook_url(httpserver: HTTPServer, webhook_id: str, canaries: Canaries) -> str:
    return httpserver.url_for(f"/api/webhooks/{webhook_id}/{canaries.discord}")


async def run_everything(
    client: httpx.AsyncClient,
    server: Server,
    httpserver: HTTPServer,
    fake_llm: FakeProviders,
    smtp: SmtpServer,
    canaries: Canaries,
) -> dict[str, str]:
    """Store the credentials, run a workflow through each service; execution ids by name."""
    serve_services(httpserver, canaries)
    llm = await credential(
        client,
        "openai_compatible",
        api_key=canaries.llm,
        base_url=fake_llm.url("openai_compatible"),
    )
    webhook = await credential(
        client, "discord", webhook_url=webhook_url(httpserver, WEBHOOK_ID, canaries)
    )
    broken = await credential(
        client, "discord", webhook_url=webhook_url(httpserver, BROKEN_WEBHOOK_ID, canaries)
    )
    slack = await credential(client, "slack", token=f"xoxb-{canaries.slack}")
    telegram = await credential(client, "telegram", bot_token=f"123456:{canaries.telegram}")
    mail = await credential(
        client, "smtp", **smtp.credential(username="robot", password=canaries.smtp)
    )
    basic = await credential(client, "basic", username="ada", password=canaries.basic)
    models = [{"credential": llm, "model": "m"}]
    ask = {"prompt": "what key?", "models": models, "cache": True}
    mail_params = {
        "credential": mail,
        "from": "robot@example.org",
        "to": ["ada@example.org"],
        "subject": "Hi",
        "text": "Hello",
    }
    workflows = {
        "ask": [node("ask", "ai.llm_chat", params=ask)],
        "cached": [node("ask", "ai.llm_chat", params=ask)],
        "stream": [node("ask", "ai.llm_chat", params={"prompt": "again?", "models": models})],
        "discord": [
            node("send", "discord.send_message", params={"credential": webhook, "content": "hi"}),
            node(
                "broken",
                "discord.send_message",
                params={"credential": broken, "content": "hi"},
                on_error="continue",
            ),
        ],
        "chat": [
            node(
                "slack",
                "slack.post_message",
                params={"credential": slack, "channel": "C1", "text": "hi"},
            ),
            node(
                "telegram",
                "telegram.send_message",
                params={"credential": telegram, "chat_id": 1, "text": "hi"},
            ),
        ],
        "mail": [node("mail", "email.send", params=mail_params)],
        "http": [
            node(
                "echo",
                "core.http_request",
                params={"url": httpserver.url_for("/echo"), "credential": basic},
            ),
            node(
                "refuse",
                "core.http_request",
                params={"url": httpserver.url_for("/refuse"), "credential": basic},
                on_error="continue",
            ),
        ],
    }
    fake_llm.reply("openai_compatible", Reply(text="you sent ", echo_key=True))
    pieces = ["it is ", canaries.llm[:12], canaries.llm[12:], "."]
    fake_llm.reply("openai_compatible", Reply(chunks=pieces, token_delay_s=0.08))
    ids = {}
    for name, nodes in workflows.items():
        links = tuple(f"start -> {n['id']}" for n in nodes)
        doc = document(node("start", "trigger.manual"), *nodes, links=links, name=name)
        ids[name] = await start(client, await stored(server, doc))
        execution = await wait(client, ids[name])
        assert execution["status"] == "succeeded", execution
    return ids


async def wait(client: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            execution = (await client.get(f"/api/v1/executions/{execution_id}")).json()
            if execution["status"] in {"succeeded", "failed", "cancelled"}:
                return dict(execution)
            await asyncio.sleep(0.05)


async def scan_database(server: Server, hits: Hits) -> None:
    """Every column of every row of every table; compressed blobs decompressed."""
    async with server.parts.db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()
            for row in rows:
                for index, value in enumerate(row):
                    where = f"table {table} column {index}"
                    if isinstance(value, bytes | memoryview):
                        data = bytes(value)
                        hits.scan(where, data)
                        if data[:1] == b"x":
                            hits.scan(f"{where} (decompressed)", zlib.decompress(data))
                    elif value is not None:
                        hits.scan(where, str(value))


def scan_data_dir(data_dir: Path, hits: Hits) -> None:
    """Every byte of every file: tav.db, its WAL and shared memory, files/, the key."""
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            hits.scan(str(path.relative_to(data_dir)), path.read_bytes())


async def read_api(client: httpx.AsyncClient, ids: dict[str, str], hits: Hits) -> dict[str, str]:
    """Every GET a user would make about these runs, and each raw event stream; the text
    each run streamed, its tokens joined."""
    for url in ("/api/v1/executions", "/api/v1/credentials", "/api/v1/workflows"):
        response = await client.get(url)
        hits.scan(f"GET {url}", response.content)
    streamed: dict[str, str] = {}
    for name, execution_id in ids.items():
        for suffix in ("", "/events"):
            response = await client.get(f"/api/v1/executions/{execution_id}{suffix}")
            hits.scan(f"GET executions/<{name}>{suffix}", response.content)
        async with client.stream("GET", f"/api/v1/executions/{execution_id}/stream") as response:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
        hits.scan(f"event stream of <{name}>", body)
        streamed[name] = "".join(_tokens(body))
    return streamed


def _tokens(stream: bytes) -> Iterator[str]:
    for line in stream.decode().splitlines():
        if line.startswith("data:"):
            data = json.loads(line.removeprefix("data:")).get("data")
            if isinstance(data, dict) and isinstance(data.get("token"), str):
                yield data["token"]


async def test_a_canary_secret_never_shows_up_outside_its_service(
    client: httpx.AsyncClient,
    server: Server,
    httpserver: HTTPServer,
    fake_llm: FakeProviders,
    smtp: SmtpServer,
    canaries: Canaries,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hits = Hits(canaries)
    caplog.set_level(logging.INFO)

    ids = await run_everything(client, server, httpserver, fake_llm, smtp, canaries)

    # The services got their secrets, and answered with them.
    assert len(fake_llm.requests) == 2  # "cached" asked nothing
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {canaries.llm}"
    assert smtp.received, "the mail was sent, logged in with the password"
    nodes = {
        name: (await client.get(f"/api/v1/executions/{ids[name]}")).json()["nodes"]
        for name in ("cached", "discord", "http")
    }
    answer = nodes["cached"]["ask"]["outputs"]["output"]
    assert (answer["cached"], answer["text"]) == (True, "you sent ***")
    assert nodes["discord"]["send"]["outputs"]["output"]["token"] == "***"
    assert "Invalid Webhook Token" in nodes["discord"]["broken"]["error"]["message"]
    echoed = nodes["http"]["echo"]["outputs"]["output"]["body"]["headers"]["Authorization"]
    assert echoed == "Basic ***"
    assert "bad credentials: Basic ***" in nodes["http"]["refuse"]["error"]["message"]

    streamed = await read_api(client, ids, hits)
    assert streamed["stream"] == "it is ***."  # a secret streamed in pieces, redacted
    assert streamed["cached"] == "you sent ***"
    await server.parts.writer.flush()
    await scan_database(server, hits)
    scan_data_dir(server.settings.data_dir, hits)
    hits.scan("logs", caplog.text)
    for record in caplog.records:
        hits.scan("log records", record.getMessage())

    assert sorted(set(hits.found)) == []


async def test_tav_run_output_never_shows_the_canary(
    client: httpx.AsyncClient,
    server: Server,
    httpserver: HTTPServer,
    fake_llm: FakeProviders,
    canaries: Canaries,
    tmp_path: Path,
) -> None:
    """A cached answer, a Discord answer and a Discord error, through ``tav run`` in a
    process of its own."""
    hits = Hits(canaries)
    serve_services(httpserver, canaries)
    llm = await credential(
        client,
        "openai_compatible",
        api_key=canaries.llm,
        base_url=fake_llm.url("openai_compatible"),
    )
    webhook = await credential(
        client, "discord", webhook_url=webhook_url(httpserver, WEBHOOK_ID, canaries)
    )
    broken = await credential(
        client, "discord", webhook_url=webhook_url(httpserver, BROKEN_WEBHOOK_ID, canaries)
    )
    models = [{"credential": llm, "model": "m"}]
    doc = document(
        node("start", "trigger.manual"),
        node("ask", "ai.llm_chat", params={"prompt": "what key?", "models": models, "cache": True}),
        node("send", "discord.send_message", params={"credential": webhook, "content": "hi"}),
        node("fail", "discord.send_message", params={"credential": broken, "content": "hi"}),
        links=("start -> ask", "ask -> send", "send -> fail"),
    )
    fake_llm.reply("openai_compatible", Reply(text="you sent ", echo_key=True))
    await run_to_end(client, await stored(server, doc))  # fills the cache
    await server.parts.writer.flush()
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(doc))
    env = {**os.environ, "TAV_DATA_DIR": str(server.settings.data_dir)}

    for options in ((), ("--json",)):
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tav", "run", str(path), *options),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        hits.scan(f"tav run {' '.join(options)} stdout", stdout)
        hits.scan(f"tav run {' '.join(options)} stderr", stderr)
        assert process.returncode == 1, stderr.decode()  # "fail" is refused, token quoted

    assert len(fake_llm.requests) == 1  # tav run answered from the cache
    assert b"you sent ***" in stdout
    assert b'"token": "***"' in stdout
    await scan_database(server, hits)
    scan_data_dir(server.settings.data_dir, hits)
    assert sorted(set(hits.found)) == []
