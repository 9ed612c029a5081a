"""Sending mail over SMTP (aiosmtplib), as an ``smtp`` credential describes the server.

``security`` is ``none`` (plain, e.g. a relay on localhost), ``starttls`` (upgrade after
connecting, usually port 587) or ``tls`` (TLS from the start, usually port 465).
Credentials stored before ``security`` existed carry ``starttls: true|false`` instead.

Failures: a 5xx answer (unknown recipient, refused sender, wrong password) is final; a
4xx answer (greylisting, a full mailbox), a lost connection or a timeout is retryable.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from tav.core.errors import NodeError, OperationalError
from tav.nodes.services import Email

if TYPE_CHECKING:
    import aiosmtplib

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


def security_of(server: Mapping[str, Any]) -> str:
    security = server.get("security")
    if security is None:  # stored before `security`: `starttls: bool`
        security = "starttls" if server.get("starttls", True) else "none"
    if security not in DEFAULT_PORTS:
        raise NodeError(
            f"smtp security {security!r} is not one of none, starttls, tls",
            type="credential_invalid",
        )
    return str(security)


def build_message(email: Email) -> EmailMessage:
    """The MIME message (no ``Bcc`` header); ``ValueError`` for a header with a line
    break or an address that does not parse."""
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = email.message_id or make_msgid()
    if email.html is not None and email.text is not None:
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
    elif email.html is not None:
        message.set_content(email.html, subtype="html")
    else:
        message.set_content(email.text or "")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.name,
        )
    return message


class SmtpMailer:
    """``tav.nodes.services.Mailer``. ``tls_context`` verifies servers (default: the
    system's CA certificates)."""

    def __init__(self, *, timeout_s: float, tls_context: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self.tls_context = tls_context

    async def send(self, server: Mapping[str, Any], email: Email) -> dict[str, Any]:
        import aiosmtplib  # on first use: it is not needed to start a server

        security = security_of(server)
        try:
            message = build_message(email)
        except (ValueError, TypeError) as exc:
            raise NodeError(f"the message is not valid: {exc}", type="invalid_email") from None
        recipients = [*email.to, *email.cc, *email.bcc]
        host = server.get("host")
        if not host:
            raise NodeError("the smtp credential has no host", type="credential_invalid")
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=email.sender,
                recipients=recipients,
                hostname=str(host),
                port=int(server.get("port") or DEFAULT_PORTS[security]),
                username=server.get("username") or None,
                password=server.get("password") or None,
                use_tls=security == "tls",
                start_tls=security == "starttls",
                tls_context=self.tls_context,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _answered(exc, f"{host}") from None
        except aiosmtplib.SMTPNotSupported as exc:
            raise NodeError(f"SMTP {host}: {exc}", type="smtp_error", retryable=False) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            untrusted = _untrusted(exc)
            if untrusted is not None:
                raise NodeError(
                    f"SMTP {host}: the server's certificate is not trusted: "
                    f"{untrusted.verify_message}",
                    type="tls_error",
                ) from None
            raise OperationalError(
                f"SMTP {host}: {type(exc).__name__}: {exc}", type="network_error"
            ) from None
        return {
            "message_id": message["Message-ID"],
            "accepted": [r for r in recipients if r not in refused],
            "rejected": {r: f"{answer.code} {answer.message}" for r, answer in refused.items()},
        }


def _answered(exc: aiosmtplib.SMTPResponseException, host: str) -> NodeError:
    import aiosmtplib

    message = f"SMTP {host} answered {exc.code} {exc.message}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return NodeError(message, type="smtp_auth_failed", retryable=False)
    if 400 <= exc.code < 500:
        return OperationalError(message, type="smtp_error")
    return NodeError(message, type="smtp_error", retryable=False)


def _refused(exc: aiosmtplib.SMTPRecipientsRefused) -> NodeError:
    answers = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
    message = f"every recipient was refused: {answers}"
    if all(400 <= r.code < 500 for r in exc.recipients):
        return OperationalError(message, type="smtp_recipients_refused")
    return NodeError(message, type="smtp_recipients_refused", retryable=False)


def _untrusted(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate check that failed, raised as is (STARTTLS) or as the cause of a
    connection error (TLS from the start)."""
    for error in (exc, exc.__cause__):
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
    return None
