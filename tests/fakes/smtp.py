"""An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for mail tests.

``SmtpServer(security=...)`` serves plain SMTP, STARTTLS (required) or TLS from the start
with the certificate it is given; with ``password`` it requires AUTH (over TLS); it
refuses recipients whose address starts with ``refuse-`` (550) or ``later-`` (451).
"""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from tests.fakes.tls import Certificate


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refuse-"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("later-"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    def __init__(
        self,
        *,
        security: str = "none",
        certificate: Certificate | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.security = security
        options: dict[str, Any] = {}
        if security == "starttls":
            assert certificate is not None
            options.update(tls_context=certificate.server_context(), require_starttls=True)
        elif security == "tls":
            assert certificate is not None
            options.update(ssl_context=certificate.server_context())
        if password is not None:
            options.update(
                authenticator=self._authenticate(username or "", password), auth_required=True
            )
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def credential(self, **extra: Any) -> dict[str, Any]:
        """An ``smtp`` credential's data for this server."""
        return {"host": "127.0.0.1", "port": self.port, "security": self.security, **extra}

    @staticmethod
    def _authenticate(username: str, password: str) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = isinstance(data, LoginPassword) and (
                data.login.decode(),
                data.password.decode(),
            ) == (username, password)
            return AuthResult(success=ok, handled=False)

        return check

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.controller.stop()
