"""Telegram's Bot API (``https://api.telegram.org/bot<token>/<method>``,
``TAV_TELEGRAM_API_URL``).

Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}`` with the same code as the HTTP status.
The token is part of the URL, so no message here ever names the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from tav.core.errors import NodeError, OperationalError
from tav.nodes.http import json_body, request, retry_after


class TelegramClient:
    """``tav.nodes.services.Telegram``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, timeout_s: float) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    async def call(self, bot_token: str, method: str, body: Mapping[str, Any]) -> Any:
        what = f"Telegram {method}"
        response = await request(
            self.http,
            "POST",
            f"{self.base_url}/bot{bot_token}/{method}",
            what=what,
            timeout_s=self.timeout_s,
            json=dict(body),
        )
        status = response.status_code
        if status >= 500:
            raise OperationalError(
                f"{what} answered {status} {response.reason_phrase}",
                type="http_error",
                retry_after=retry_after(response),
            )
        data = json_body(response, what)
        if isinstance(data, dict) and data.get("ok"):
            return data.get("result")
        code = data.get("error_code", status) if isinstance(data, dict) else status
        description = data.get("description", "") if isinstance(data, dict) else ""
        message = f"{what} failed: {code} {description}".rstrip()
        if code == 429:
            raise OperationalError(
                message, type="telegram_error", retry_after=retry_after(response)
            )
        raise NodeError(message, type="telegram_error", retryable=False)
