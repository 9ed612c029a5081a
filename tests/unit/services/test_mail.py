"""email.send through a real SMTP server on 127.0.0.1 (aiosmtpd): plain, STARTTLS and TLS
with a self-signed certificate made in the test, read back with its attachments."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tav.core.media import Media
from tav.core.results import ExecutionResult
from tav.engine.executor import Executor
from tav.nodes.host import HostServices
from tav.nodes.registry import NodeRegistry
from tav.services.mail import SmtpMailer
from tav.storage.files import FileStore
from tests.fakes.secrets import MemorySecrets
from tests.fakes.smtp import SmtpServer, free_port
from tests.fakes.tls import Certificate, self_signed
from tests.helpers import node, run, workflow

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
NO_WAIT = {"max_attempts": 2, "backoff_s": 0, "jitter": False}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def executor(
    registry: NodeRegistry,
    file_store: FileStore,
    memory_secrets: MemorySecrets,
    certificate: Certificate,
) -> Executor:
    mailer = SmtpMailer(timeout_s=5, tls_context=certificate.client_context())
    services = HostServices(mailer=mailer, files=file_store)
    return Executor(registry, services=services, secrets=memory_secrets)


async def send(executor: Executor, **params: Any) -> ExecutionResult:
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "mail",
            "email.send",
            params={"credential": "smtp", "from": "Robot <robot@example.org>", **params},
            retry=NO_WAIT,
        ),
        links=("start -> mail",),
    )
    return await run(executor, wf, {})


def sent(result: ExecutionResult) -> dict[str, Any]:
    outcome = result.nodes["mail"]
    assert outcome.status.value == "succeeded", outcome.error
    return dict(outcome.outputs["output"])


async def test_a_plain_message_with_attachments_arrives_whole(
    executor: Executor, memory_secrets: MemorySecrets, file_store: FileStore
):
    stored = await file_store.add(b"col\n1\n", name="data.csv", kind="upload")
    with SmtpServer() as server:
        memory_secrets.add("smtp", "smtp", **server.credential())
        result = await send(
            executor,
            to="ada@example.org, bob@example.org",
            cc=["carol@example.org"],
            bcc=["dave@example.org"],
            subject="Report ✓",
            text="See attached.",
            html="<p>See <b>attached</b>.</p>",
            attachments=[
                Media.from_bytes(PNG, name="dot.png").to_value(),
                stored.value(),
                Media.text("hello", name="hello.txt").to_value(),
            ],
        )

    output = sent(result)
    assert len(server.received) == 1
    received = server.received[0]
    everyone = ["ada@example.org", "bob@example.org", "carol@example.org", "dave@example.org"]
    assert received.recipients == everyone
    assert output["accepted"] == everyone
    assert output["rejected"] == {}
    message = received.message
    assert message["From"] == "Robot <robot@example.org>"
    assert message["To"] == "ada@example.org, bob@example.org"
    assert message["Cc"] == "carol@example.org"
    assert message["Bcc"] is None
    assert message["Subject"] == "Report ✓"
    assert message["Message-ID"] == output["message_id"]
    assert output["message_id"].endswith("@example.org>")
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "See attached."
    html = message.get_body(("html",))
    assert html is not None
    assert "<b>attached</b>" in html.get_content()
    attachments = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    }
    assert attachments == {
        "dot.png": ("image/png", PNG),
        "data.csv": ("text/csv", b"col\n1\n"),
        "hello.txt": ("text/plain", b"hello"),
    }


async def test_starttls_with_a_password(
    executor: Executor, memory_secrets: MemorySecrets, certificate: Certificate
):
    with SmtpServer(
        security="starttls", certificate=certificate, username="robot", password="s3cret-pw"
    ) as server:
        memory_secrets.add(
            "smtp", "smtp", **server.credential(username="robot", password="s3cret-pw")
        )
        result = await send(executor, to=["ada@example.org"], subject="Hi", text="Hello")

    assert sent(result)["accepted"] == ["ada@example.org"]
    assert server.received[0].message["Subject"] == "Hi"


async def test_tls_from_the_start(
    executor: Executor, memory_secrets: MemorySecrets, certificate: Certificate
):
    with SmtpServer(security="tls", certificate=certificate) as server:
        memory_secrets.add("smtp", "smtp", **server.credential())
        result = await send(executor, to=["ada@example.org"], html="<p>Only HTML</p>")

    sent(result)
    body = server.received[0].message.get_body(("html",))
    assert body is not None
    assert "Only HTML" in body.get_content()


async def test_a_credential_stored_with_starttls_true_still_works(
    executor: Executor, memory_secrets: MemorySecrets, certificate: Certificate
):
    with SmtpServer(security="starttls", certificate=certificate) as server:
        memory_secrets.add("smtp", "smtp", host="127.0.0.1", port=server.port, starttls=True)
        result = await send(executor, to=["ada@example.org"], text="x")

    sent(result)
    assert len(server.received) == 1


async def test_some_recipients_refused_is_reported_not_failed(
    executor: Executor, memory_secrets: MemorySecrets
):
    with SmtpServer() as server:
        memory_secrets.add("smtp", "smtp", **server.credential())
        result = await send(executor, to=["ada@example.org", "refuse-bob@example.org"], text="x")

    output = sent(result)
    assert output["accepted"] == ["ada@example.org"]
    assert output["rejected"] == {"refuse-bob@example.org": "550 5.1.1 no such mailbox"}


@pytest.mark.parametrize(
    ("recipient", "attempts", "retryable"),
    [("refuse-bob@example.org", 1, False), ("later-bob@example.org", 2, True)],
)
async def test_every_recipient_refused_fails_retrying_only_temporary_refusals(
    executor: Executor,
    memory_secrets: MemorySecrets,
    recipient: str,
    attempts: int,
    retryable: bool,
):
    with SmtpServer() as server:
        memory_secrets.add("smtp", "smtp", **server.credential())
        result = await send(executor, to=[recipient], text="x")

    outcome = result.nodes["mail"]
    assert outcome.status.value == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "smtp_recipients_refused"
    assert outcome.error.retryable is retryable
    assert outcome.attempts == attempts
    assert server.received == []


async def test_a_wrong_password_is_not_retried(
    executor: Executor, memory_secrets: MemorySecrets, certificate: Certificate
):
    with SmtpServer(
        security="starttls", certificate=certificate, username="robot", password="right"
    ) as server:
        memory_secrets.add(
            "smtp", "smtp", **server.credential(username="robot", password="wrong-pw")
        )
        result = await send(executor, to=["ada@example.org"], text="x")

    outcome = result.nodes["mail"]
    assert outcome.error is not None
    assert (outcome.error.type, outcome.attempts) == ("smtp_auth_failed", 1)
    assert "wrong-pw" not in outcome.error.message


async def test_an_untrusted_certificate_is_refused(
    registry: NodeRegistry, memory_secrets: MemorySecrets, tmp_path: Path
):
    other = self_signed(tmp_path / "other")
    mailer = SmtpMailer(timeout_s=5, tls_context=other.client_context())
    executor = Executor(registry, services=HostServices(mailer=mailer), secrets=memory_secrets)
    with SmtpServer(security="tls", certificate=self_signed(tmp_path / "server")) as server:
        memory_secrets.add("smtp", "smtp", **server.credential())
        result = await send(executor, to=["ada@example.org"], text="x")

    outcome = result.nodes["mail"]
    assert outcome.error is not None
    assert (outcome.error.type, outcome.attempts) == ("tls_error", 1)
    assert server.received == []


async def test_a_server_that_is_not_there_is_retried(
    executor: Executor, memory_secrets: MemorySecrets
):
    memory_secrets.add("smtp", "smtp", host="127.0.0.1", port=free_port(), security="none")
    result = await send(executor, to=["ada@example.org"], text="x")

    outcome = result.nodes["mail"]
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.retryable, outcome.attempts) == (
        "network_error",
        True,
        2,
    )


async def test_a_header_with_a_line_break_is_refused(
    executor: Executor, memory_secrets: MemorySecrets
):
    memory_secrets.add("smtp", "smtp", host="127.0.0.1", port=free_port(), security="none")
    result = await send(executor, to=["ada@example.org"], subject="Hi\r\nBcc: eve@example.org")

    outcome = result.nodes["mail"]
    assert outcome.error is not None
    assert (outcome.error.type, outcome.attempts) == ("invalid_email", 1)


async def test_a_credential_of_another_kind_is_refused(
    executor: Executor, memory_secrets: MemorySecrets
):
    memory_secrets.add("smtp", "bearer", token="t")
    result = await send(executor, to=["ada@example.org"], text="x")

    outcome = result.nodes["mail"]
    assert outcome.error is not None
    assert outcome.error.type == "credential_kind"
