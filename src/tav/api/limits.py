"""Request bodies the API refuses before any route sees them.

- Larger than ``TAV_MAX_BODY_BYTES`` (uploads: ``TAV_MAX_UPLOAD_BYTES``): 413, whether
  the size is declared or streamed.
- JSON text holding a lone UTF-16 surrogate escape (``"\\ud800"`` without its pair): 422.
  It is valid JSON grammar but not Unicode, so a string holding it cannot be encoded as
  UTF-8: it would break storage and every later response that includes it. Pydantic's
  ``str`` fields refuse it, but free-form JSON (workflow params, run input, variable
  values) would take it, so it is refused here once for every route. The check only
  parses a body that contains a surrogate escape at all, so other bodies cost one regex scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tav.api.errors import send_error

SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
JSON_TYPE = re.compile(rb"^application/(?:[\w.+-]+\+)?json\b", re.IGNORECASE)


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Pure ASGI middleware: a body over ``max_bytes`` (or the limit ``limits`` sets for
    its exact path) gets 413, a JSON body with a lone surrogate 422."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.max_bytes) if self.limits else self.max_bytes
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, "body_too_large", _too_large(limit))
            return
        if JSON_TYPE.match(headers.get(b"content-type", b"")):
            await self._json(scope, receive, send, limit)
            return
        try:
            await self.app(scope, _limited(receive, limit), send)
        except BodyTooLarge:
            await send_error(send, 413, "body_too_large", _too_large(limit))

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Read the whole JSON body (the route would anyway), check it, then replay it."""
        limited = _limited(receive, limit)
        chunks = []
        try:
            while True:
                message = await limited()
                if message["type"] != "http.request":
                    return  # the client went away before its body was complete
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except BodyTooLarge:
            await send_error(send, 413, "body_too_large", _too_large(limit))
            return
        body = b"".join(chunks)
        if SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(body):
            details = [{"location": "body", "message": "text holds a lone UTF-16 surrogate"}]
            reason = "the body is not valid Unicode JSON"
            await send_error(send, 422, "request_invalid", reason, details)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return limited_receive


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


def _has_lone_surrogate(body: bytes) -> bool:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON: the route answers that
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return True
        elif isinstance(item, dict):
            if not all(_encodable(key) for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
