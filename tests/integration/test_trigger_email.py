"""``trigger.email`` against a real IMAP server (Dovecot, started by the test): new
messages start runs, with their text, HTML and attachments (large ones as stored files,
downloaded over the API); what was seen is remembered across a restart."""

from __future__ import annotations

import contextlib
import imaplib
import os
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.core.media import Media
from tav.settings import Settings
from tests.helpers import document, node
from tests.integration.dovecot import Dovecot, installed
from tests.integration.triggers import inputs, wait_for

USER, PASSWORD = "alice", "wonder-land"


@pytest.fixture(scope="module")
def imap_server() -> Iterator[Dovecot]:
    if not installed():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: .ci/run installs dovecot-imapd")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    dovecot = Dovecot({USER: PASSWORD}).start()
    yield dovecot
    dovecot.stop()


@contextlib.asynccontextmanager
async def api_client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    _, secret = await server.parts.auth.create_api_key("tests")
    transport = httpx.ASGITransport(app=create_app(server.settings, server=server))
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers=headers
    ) as client:
        yield client


def deliver(
    imap_server: Dovecot, message: EmailMessage, mailbox: str, *, seen: bool = False
) -> None:
    imap = imaplib.IMAP4("127.0.0.1", imap_server.port)
    try:
        imap.login(USER, PASSWORD)
        imap.create(mailbox)
        flags = "(\\Seen)" if seen else None
        imap.append(mailbox, flags, None, message.as_bytes())
    finally:
        imap.logout()


def seen_flags(imap_server: Dovecot, mailbox: str) -> list[bool]:
    imap = imaplib.IMAP4("127.0.0.1", imap_server.port)
    try:
        imap.login(USER, PASSWORD)
        imap.select(mailbox, readonly=True)
        _, data = imap.fetch("1:*", "(FLAGS)")
        return [b"\\Seen" in line for line in data if isinstance(line, bytes)]
    finally:
        imap.logout()


def message(subject: str, *, html: bool = False, attachment: bytes | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Bob <bob@example.test>"
    mail["To"] = "alice@example.test, Carol <carol@example.test>"
    mail["Subject"] = subject
    mail["Date"] = "Tue, 01 Dec 2026 09:30:00 +0100"
    mail.set_content(f"Hello, {subject}")
    if html:
        mail.add_alternative(f"<p>Hello, <b>{subject}</b></p>", subtype="html")
    if attachment is not None:
        mail.add_attachment(attachment, maintype="text", subtype="csv", filename="stock.csv")
    return mail


def email_flow(credential: str, mailbox: str, **params: Any) -> dict[str, Any]:
    return document(
        node(
            "mail",
            "trigger.email",
            params={"credential": credential, "mailbox": mailbox, "poll_interval_s": 0.1, **params},
        ),
        node("result", "core.output"),
        links=("mail -> result",),
        name="mail",
    )


async def _credential(server: Server, imap_server: Dovecot) -> str:
    data = {
        "host": "127.0.0.1",
        "port": imap_server.port,
        "username": USER,
        "password": PASSWORD,
        "security": "none",
    }
    return (await server.parts.credentials.create("mailbox", "imap", data)).id


async def test_new_messages_start_runs_once_across_a_restart(
    server: Server, imap_server: Dovecot, config: Settings, request: pytest.FixtureRequest
):
    mailbox = request.node.name[:40]
    deliver(imap_server, message("already read"), mailbox, seen=True)
    deliver(imap_server, message("first", html=True, attachment=b"tea,3\ncoffee,0\n"), mailbox)
    credential = await _credential(server, imap_server)
    workflow = await server.parts.workflows.create(email_flow(credential, mailbox))
    await server.parts.triggers.activate(workflow.id)
    [first] = await inputs(server, workflow.id, 1)
    assert first["from"] == "bob@example.test"
    assert first["to"] == ["alice@example.test", "carol@example.test"]
    assert first["subject"] == "first"
    assert first["date"] == "2026-12-01T09:30:00+01:00"
    assert first["text"].strip() == "Hello, first"
    assert first["html"].strip() == "<p>Hello, <b>first</b></p>"
    [attachment] = first["attachments"]
    media = Media.model_validate(attachment)
    assert (media.name, media.mime_type) == ("stock.csv", "text/csv")
    assert media.content_bytes() == b"tea,3\ncoffee,0\n"

    await server.stop(timeout_s=0)  # down; a message arrives meanwhile
    deliver(imap_server, message("second"), mailbox)
    restarted = Server(build(config))
    await restarted.start(prune=False)
    try:
        payloads = await inputs(restarted, workflow.id, 2)
        assert [p["subject"] for p in payloads] == ["first", "second"]
        poller = restarted.parts.triggers.armed[workflow.id].armed["mail"]
        polls = poller.polls  # type: ignore[attr-defined]
        await wait_for(lambda: poller.polls >= polls + 3)  # type: ignore[attr-defined]
        await restarted.parts.writer.flush()
        assert (await restarted.parts.executions.find(workflow_id=workflow.id))[1] == 2
        assert seen_flags(imap_server, mailbox) == [True, False, False]  # left unseen
    finally:
        await restarted.stop(timeout_s=0)


async def test_mark_seen_and_large_attachments_are_stored_files(
    server: Server, imap_server: Dovecot, config: Settings, request: pytest.FixtureRequest
):
    mailbox = request.node.name[:40]
    big = b"x" * (300 * 1024)
    deliver(imap_server, message("big", attachment=big), mailbox)
    credential = await _credential(server, imap_server)
    workflow = await server.parts.workflows.create(email_flow(credential, mailbox, mark_seen=True))
    await server.parts.triggers.activate(workflow.id)
    [payload] = await inputs(server, workflow.id, 1)
    media = Media.model_validate(payload["attachments"][0])
    assert (media.name, media.mime_type, media.size) == ("stock.csv", "text/csv", len(big))
    file_id = media.metadata["file_id"]
    assert media.uri == f"file:{file_id}"
    async with api_client(server) as client:
        listed = (await client.get("/api/v1/files", params={"kind": "email"})).json()
        [stored] = listed["items"]
        assert (stored["id"], stored["kind"], stored["size"]) == (file_id, "email", len(big))
        assert stored["value"] == payload["attachments"][0]
        response = await client.get(media.metadata["url"])
        assert response.status_code == 200
        assert response.content == big
    assert await server.parts.files.read(media.uri) == big  # what nodes read through Files
    await wait_for(lambda: seen_flags(imap_server, mailbox) == [True])


async def test_a_wrong_password_is_retried_not_fatal(
    server: Server, imap_server: Dovecot, request: pytest.FixtureRequest
):
    data = {
        "host": "127.0.0.1",
        "port": imap_server.port,
        "username": USER,
        "password": "wrong",
        "security": "none",
    }
    credential = (await server.parts.credentials.create("bad", "imap", data)).id
    workflow = await server.parts.workflows.create(email_flow(credential, "INBOX"))
    await server.parts.triggers.activate(workflow.id)
    poller = server.parts.triggers.armed[workflow.id].armed["mail"]
    await wait_for(lambda: poller.polls >= 1)  # type: ignore[attr-defined]
    assert server.parts.triggers.armed[workflow.id].armed["mail"] is poller
