"""Slack's Web API (``https://slack.com/api/<method>``, ``TAV_SLACK_API_URL``).

Slack answers most errors with HTTP 200 and ``{"ok": false, "error": "<code>"}``; the codes
that mean "try again later" are retryable, every other one is not. Rate limits come as 429
with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from tav.core.errors import NodeError, OperationalError
from tav.nodes.http import check, json_body, request

TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackClient:
    """``tav.nodes.services.Slack``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, timeout_s: float) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    async def call(self, token: str, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        what = f"Slack {method}"
        response = await request(
            self.http,
            "POST",
            f"{self.base_url}/{method}",
            what=what,
            timeout_s=self.timeout_s,
            json=dict(body),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        check(response, what)
        data = json_body(response, what)
        if not isinstance(data, dict) or not data.get("ok"):
            error = data.get("error", "unknown_error") if isinstance(data, dict) else "no_ok"
            message = f"{what} failed: {error}"
            if error in TRANSIENT:
                raise OperationalError(message, type="slack_error")
            raise NodeError(message, type="slack_error", retryable=False)
        return data
