"""Discord: messages through a webhook URL, or with a bot token through the API
(``https://discord.com/api/v10``, ``TAV_DISCORD_API_URL``).

A webhook URL is used as it is (it names its own host, and may name a thread:
``?thread_id=``); ``?wait=true`` is added to it, and makes Discord answer with the message
it created. Rate limits come as 429 with ``Retry-After`` and a
``retry_after`` in the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from tav.core.errors import NodeError
from tav.nodes.http import check, json_body, request


class DiscordClient:
    """``tav.nodes.services.Discord``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, timeout_s: float) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    async def send_message(
        self, credential: Mapping[str, Any], body: Mapping[str, Any], *, channel_id: str | None
    ) -> dict[str, Any]:
        webhook_url = credential.get("webhook_url")
        bot_token = credential.get("bot_token")
        if webhook_url:
            what = "Discord webhook"
            url, headers, params = str(webhook_url), {}, {"wait": "true"}
        elif bot_token:
            if not channel_id:
                raise NodeError(
                    "a message sent with a bot token needs a channel_id", type="params_invalid"
                )
            what = "Discord create message"
            url = f"{self.base_url}/channels/{channel_id}/messages"
            headers, params = {"Authorization": f"Bot {bot_token}"}, {}
        else:
            raise NodeError(
                "the discord credential has neither a webhook_url nor a bot_token",
                type="credential_invalid",
            )
        response = await request(
            self.http,
            "POST",
            url,
            what=what,
            timeout_s=self.timeout_s,
            json=dict(body),
            headers=headers,
            params=params,
        )
        check(response, what)
        data = json_body(response, what)
        return data if isinstance(data, dict) else {"answer": data}
