"""What service nodes ask of their host: mail, chat messages, MQTT and signed webhooks.

A service node reveals its credential through its context (so the engine redacts the
secrets from then on), builds a request from its params, and hands both to one of these
services. ``tav.services`` implements them, with the base URLs of the hosted APIs from
settings (``TAV_SLACK_API_URL``, ...), so the node code stays free of transports and
settings and tests point the services at servers on 127.0.0.1.

Services raise ``NodeError`` for what trying again cannot fix (a 4xx answer, a refused
recipient, wrong credentials) and ``OperationalError`` for what it may (the network, a
5xx, a 429 or another rate limit, with ``retry_after`` when the far side says how long).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    mime_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Email:
    """One message; ``bcc`` recipients get it without being named in its headers."""

    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None
    """``<...@...>``; the same on every attempt, so receivers can drop duplicates."""


class Mailer(Protocol):
    async def send(self, server: Mapping[str, Any], email: Email) -> dict[str, Any]:
        """Send ``email`` through the SMTP server an ``smtp`` credential's data describes;
        returns ``{"message_id", "accepted", "rejected"}`` (``rejected``: recipient →
        the server's answer, when it refused some but not all)."""
        ...


class Slack(Protocol):
    async def call(self, token: str, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Call a Slack Web API method (``chat.postMessage``) with a bot or user token;
        returns Slack's answer (whose ``ok`` is true)."""
        ...


class Discord(Protocol):
    async def send_message(
        self, credential: Mapping[str, Any], body: Mapping[str, Any], *, channel_id: str | None
    ) -> dict[str, Any]:
        """Post a message through a ``discord`` credential's webhook URL, or with its bot
        token to ``channel_id``; returns the message Discord created."""
        ...


class Telegram(Protocol):
    async def call(self, bot_token: str, method: str, body: Mapping[str, Any]) -> Any:
        """Call a Telegram Bot API method (``sendMessage``); returns its ``result``."""
        ...


class MqttPublisher(Protocol):
    async def publish(
        self,
        broker: Mapping[str, Any],
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        """Publish to the broker ``broker`` describes (``host``, ``port``, ``tls``,
        ``username``, ``password``, ``client_id``); returns once the
        broker has it (for QoS 1 and 2: has acknowledged it)."""
        ...


class Webhooks(Protocol):
    async def send(
        self,
        url: str,
        body: bytes,
        *,
        secret: str,
        headers: Mapping[str, str],
        delivery_id: str,
    ) -> dict[str, Any]:
        """POST ``body`` to ``url``, signed with ``secret`` (see ``tav.services.webhooks``)
        and marked with ``delivery_id`` (the same on every attempt); returns
        ``{"status", "headers", "body"}``."""
        ...
