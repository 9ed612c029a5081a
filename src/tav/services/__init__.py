"""Clients of the outside services that service nodes use: mail, Slack, Discord, Telegram,
MQTT and signed webhooks (``tav.nodes.services`` says what each one does).

``build_services`` gives the host these clients as ``HostServices`` (``tav.nodes.host``),
which it completes with the rest of what it supplies; base URLs and the timeout come from
settings, through ``ServiceConfig``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from tav.nodes.host import HostServices
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
) -> HostServices:
    """``http`` and every service client over it; the other services are left unset
    (``dataclasses.replace`` adds them).

    ``tls_context`` is what the SMTP and MQTT clients verify servers with (default: the
    system's CA certificates); HTTP calls go through ``http``."""
    timeout = config.timeout_s
    return HostServices(
        http=http,
        mailer=SmtpMailer(timeout_s=timeout, tls_context=tls_context),
        slack=SlackClient(http, config.slack_api_url, timeout_s=timeout),
        discord=DiscordClient(http, config.discord_api_url, timeout_s=timeout),
        telegram=TelegramClient(http, config.telegram_api_url, timeout_s=timeout),
        mqtt=MqttClient(timeout_s=timeout, tls_context=tls_context),
        webhooks=WebhookSender(http, timeout_s=timeout),
    )
