"""Clients of the outside services that service nodes use: mail, Slack, Discord, Telegram,
MQTT and signed webhooks (``tav.nodes.services`` says what each one does).

``build_services`` gives the host the ``services`` mapping of its executor; base URLs and
the timeout come from settings, through ``ServiceConfig``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from tav.nodes.services import Discord, Mailer, MqttPublisher, Slack, Telegram, Webhooks
from tav.services.discord import DiscordClient
from tav.services.mail import SmtpMailer
from tav.services.mqtt import MqttClient
from tav.services.slack import SlackClient
from tav.services.telegram import TelegramClient
from tav.services.webhooks import WebhookSender

__all__ = [
    "DiscordClient",
    "MqttClient",
    "ServiceConfig",
    "SlackClient",
    "SmtpMailer",
    "TelegramClient",
    "WebhookSender",
    "build_services",
]


@dataclass(frozen=True)
class ServiceConfig:
    slack_api_url: str = "https://slack.com/api"
    discord_api_url: str = "https://discord.com/api/v10"
    telegram_api_url: str = "https://api.telegram.org"
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any) -> ServiceConfig:
        """From ``tav.settings.Settings``."""
        return cls(
            slack_api_url=settings.slack_api_url,
            discord_api_url=settings.discord_api_url,
            telegram_api_url=settings.telegram_api_url,
            timeout_s=settings.service_timeout_s,
        )


def build_services(
    config: ServiceConfig,
    http: httpx.AsyncClient,
    *,
    tls_context: ssl.SSLContext | None = None,
) -> dict[type, object]:
    """Every service client, by the protocol service nodes look it up with.

    ``tls_context`` is what the SMTP and MQTT clients verify servers with (default: the
    system's CA certificates); HTTP calls go through ``http``."""
    timeout = config.timeout_s
    return {
        Mailer: SmtpMailer(timeout_s=timeout, tls_context=tls_context),
        Slack: SlackClient(http, config.slack_api_url, timeout_s=timeout),
        Discord: DiscordClient(http, config.discord_api_url, timeout_s=timeout),
        Telegram: TelegramClient(http, config.telegram_api_url, timeout_s=timeout),
        MqttPublisher: MqttClient(timeout_s=timeout, tls_context=tls_context),
        Webhooks: WebhookSender(http, timeout_s=timeout),
    }
