"""Signed webhooks: a JSON POST whose receiver can check who sent it, and when.

Each request carries::

    X-TAV-Timestamp: <unix seconds>
    X-TAV-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
    X-TAV-Delivery:  <id, the same on every attempt of one node run>
    Idempotency-Key: <the same id>

The timestamp is signed with the body, so a receiver that refuses old timestamps (five
minutes is usual) cannot be fed a recorded request again later, and one that remembers
delivery ids can drop a retried request it already handled. ``verify`` is the receiver's
side of it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import httpx

from tav.nodes.http import check, request

SIGNATURE_HEADER = "X-TAV-Signature"
TIMESTAMP_HEADER = "X-TAV-Timestamp"
DELIVERY_HEADER = "X-TAV-Delivery"
TOLERANCE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp: str,
    signature: str,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether a request is signed with ``secret`` and its timestamp is recent enough."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookSender:
    """``tav.nodes.services.Webhooks``."""

    def __init__(self, http: httpx.AsyncClient, *, timeout_s: float) -> None:
        self.http = http
        self.timeout_s = timeout_s

    async def send(
        self,
        url: str,
        body: bytes,
        *,
        secret: str,
        headers: Mapping[str, str],
        delivery_id: str,
    ) -> dict[str, Any]:
        timestamp = str(int(time.time()))
        sent = {"Content-Type": "application/json", **headers}
        sent[DELIVERY_HEADER] = sent["Idempotency-Key"] = delivery_id
        sent[TIMESTAMP_HEADER] = timestamp
        sent[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        what = f"webhook POST {url}"
        response = await request(
            self.http, "POST", url, what=what, timeout_s=self.timeout_s, content=body, headers=sent
        )
        check(response, what)
        return {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": _body(response),
        }


def _body(response: httpx.Response) -> Any:
    if "json" in response.headers.get("content-type", "") and response.content:
        try:
            return response.json()
        except ValueError:
            pass
    return response.text
