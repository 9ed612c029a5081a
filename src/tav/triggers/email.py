"""Mailbox pollers (IMAP, with the standard library's ``imaplib`` on a worker thread).

Each poll logs in, selects the mailbox, asks for the unseen messages with a UID above the
last one seen, fetches them without marking them seen (``BODY.PEEK``) and logs out. The
trigger state keeps the mailbox's UIDVALIDITY and the last UID that started a run, so a
restart neither repeats nor loses messages; if the server renumbers the mailbox (a new
UIDVALIDITY), the unseen messages count as new again. A message's run is recorded before
its UID is stored: a crash in between runs it once more rather than never.

Attachments up to ``MAX_INLINE_BYTES`` travel inline; larger ones are kept in the host's
file store (``ReceivedFiles``) as files of kind ``email``, with a download URL and a
``file:<id>`` uri like any other stored file.

Rejected: aioimaplib (an extra dependency for a poll every minute) and IMAP IDLE (a
connection per trigger held open; polling is what every server supports the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import imaplib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from tav.core.media import MAX_INLINE_BYTES, Media
from tav.core.modes import ExecutionMode
from tav.nodes.builtin.triggers.email import EmailParams
from tav.triggers.base import Background, Host, Target, check_credential
from tav.triggers.ports import ReceivedFiles

logger = logging.getLogger("tav.triggers.email")
STATE_KEY = "mailbox"
BATCH = 50
"""At most this many messages per poll; the rest come with the next polls."""
MAX_BACKOFF_S = 300.0
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Account:
    host: str
    port: int
    username: str
    password: str
    security: str

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Account:
        security = data.get("security", "ssl")
        port = data.get("port") or (993 if security == "ssl" else 143)
        return cls(data["host"], int(port), data["username"], data["password"], security)


@dataclass(frozen=True)
class Fetched:
    uidvalidity: int
    messages: list[tuple[int, bytes]]


def fetch_new(account: Account, mailbox: str, known: Mapping[str, int] | None) -> Fetched:
    """Unseen messages with a UID above the last seen (blocking: run it on a thread)."""
    with _connect(account) as imap:
        imap.select(_quoted(mailbox), readonly=True)
        uidvalidity = int(imap.response("UIDVALIDITY")[1][0] or 0)
        last = known["last_uid"] if known and known.get("uidvalidity") == uidvalidity else 0
        _, found = imap.uid("SEARCH", "UNSEEN", f"UID {last + 1}:*")
        # "n:*" always includes the highest UID, even below n: filter.
        uids = sorted(u for u in (int(x) for x in (found[0] or b"").split()) if u > last)
        messages = []
        for uid in uids[:BATCH]:
            _, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is not None:
                messages.append((uid, raw))
        return Fetched(uidvalidity, messages)


def mark_seen(account: Account, mailbox: str, uids: list[int]) -> None:
    with _connect(account) as imap:
        imap.select(_quoted(mailbox))
        imap.uid("STORE", ",".join(map(str, uids)), "+FLAGS", "(\\Seen)")


class _Session:
    def __init__(self, imap: imaplib.IMAP4) -> None:
        self.imap = imap

    def __enter__(self) -> imaplib.IMAP4:
        return self.imap

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.imap.logout()


def _connect(account: Account) -> _Session:
    if account.security == "ssl":
        context = ssl.create_default_context()
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            account.host, account.port, ssl_context=context, timeout=TIMEOUT_S
        )
    else:
        imap = imaplib.IMAP4(account.host, account.port, timeout=TIMEOUT_S)
        if account.security == "starttls":
            imap.starttls(ssl.create_default_context())
    try:
        imap.login(account.username, account.password)
    except BaseException:
        imap.shutdown()
        raise
    return _Session(imap)


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    name: str
    mime_type: str
    data: bytes


def parse_message(raw: bytes) -> tuple[dict[str, Any], list[Attachment]]:
    """``{from, to, subject, date, text, html}`` of a raw message, and its attachments
    (blocking: run it on a thread)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    payload = {
        "from": _addresses(message, "from")[0] if _addresses(message, "from") else None,
        "to": _addresses(message, "to"),
        "cc": _addresses(message, "cc"),
        "subject": str(message.get("subject", "")),
        "date": _date(message.get("date")),
        "message_id": str(message.get("message-id", "")) or None,
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
    }
    attachments = [
        _attachment(part) for part in message.iter_attachments() if isinstance(part, EmailMessage)
    ]
    return payload, attachments


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(value) for value in message.get_all(header, [])]
    return [address for _, address in getaddresses(values) if address]


def _date(value: Any) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value)).isoformat()
    except (TypeError, ValueError):
        return None


def _attachment(part: EmailMessage) -> Attachment:
    content = part.get_payload(decode=True)
    data = content if isinstance(content, bytes) else b""
    return Attachment(part.get_filename() or "attachment", part.get_content_type(), data)


async def attachment_value(attachment: Attachment, files: ReceivedFiles) -> dict[str, Any]:
    """A MediaFormat value: inline when small, else a stored file (``file:<id>``, kind
    ``email``) kept through ``files``."""
    name, mime, data = attachment.name, attachment.mime_type, attachment.data
    if len(data) <= MAX_INLINE_BYTES:
        return Media.from_bytes(data, mime_type=mime, name=name).to_value()
    return await files.receive(data, name=name, mime_type=mime, via="email")


# -- the poller -----------------------------------------------------------------------------


class Poller(Background):
    def __init__(self, target: Target, config: EmailParams, host: Host) -> None:
        super().__init__(f"email {target.workflow.id}/{target.node_id}")
        self.target = target
        self.config = config
        self.host = host
        self.polls = 0
        """Polls done (tests wait on it)."""

    async def body(self) -> None:
        failures = 0
        while True:
            try:
                await self.poll()
                failures = 0
                wait = self.config.poll_interval_s
            except Exception as exc:  # the server is down or refused us: try again later
                failures += 1
                wait = min(self.config.poll_interval_s * 2**failures, MAX_BACKOFF_S)
                logger.warning("%s: %s; polling again in %.0f s", self.name, exc, wait)
            self.polls += 1
            await asyncio.sleep(0)
            await self.host.clock.sleep(wait)

    async def poll(self) -> int:
        """One poll; returns how many runs it started."""
        target, state = self.target, self.host.state
        account = Account.of((await self.host.credentials.reveal(self.config.credential)).data)
        known = await state.get(target.workflow.id, target.node_id, STATE_KEY)
        fetched = await asyncio.to_thread(fetch_new, account, self.config.mailbox, known)
        started = []
        for uid, raw in fetched.messages:
            payload, attachments = await asyncio.to_thread(parse_message, raw)
            payload["attachments"] = [
                await attachment_value(attachment, self.host.files) for attachment in attachments
            ]
            await target.launch(self.host, {**payload, "uid": uid}, ExecutionMode.EMAIL)
            new = {"uidvalidity": fetched.uidvalidity, "last_uid": uid}
            await state.swap(target.workflow.id, target.node_id, STATE_KEY, known, new)
            known = new
            started.append(uid)
        if known is None or known.get("uidvalidity") != fetched.uidvalidity:
            new = {"uidvalidity": fetched.uidvalidity, "last_uid": 0}
            await state.swap(target.workflow.id, target.node_id, STATE_KEY, known, new)
        if started and self.config.mark_seen:
            await asyncio.to_thread(mark_seen, account, self.config.mailbox, started)
        return len(started)


class EmailKind:
    def parse(self, activation: Mapping[str, Any]) -> EmailParams:
        return EmailParams.model_validate({k: v for k, v in activation.items() if k != "kind"})

    def claims(self, config: EmailParams) -> frozenset[str]:
        return frozenset()

    async def check(self, config: EmailParams, host: Host) -> None:
        await check_credential(host, config.credential, ("imap",))

    def arm(self, target: Target, config: EmailParams, host: Host) -> Poller:
        return Poller(target, config, host)
