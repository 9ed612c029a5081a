"""Webhooks: the armed ``trigger.webhook`` nodes by path, and what a request to one needs.

``WebhookRoutes`` is the table the HTTP layer looks paths up in; it holds no task. Each
armed webhook checks a request's rate, size and authentication, turns it into the trigger
payload, and shapes the HTTP answer from a finished run. Serving HTTP stays in
``tav.api.webhooks``.

Authentication reads the credential through the host's credential service and keeps it
for ``CREDENTIAL_TTL_S`` seconds, so a webhook under load does not decrypt a credential per
request; a changed credential applies within that time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from tav.core.errors import NotFound
from tav.core.results import ExecutionResult
from tav.core.states import ExecutionStatus
from tav.nodes.builtin.triggers.webhook import WebhookParams
from tav.nodes.context import Credential
from tav.triggers.base import Host, Target, check_credential

logger = logging.getLogger("tav.triggers")

CREDENTIAL_TTL_S = 5.0
PREFIX = "/webhook/"
AUTH_KINDS = {"header": ("bearer", "api_key"), "basic": ("basic",)}
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization", "x-api-key", "x-auth-token"}
)
"""Headers that carry secrets: never part of a request as a node sees it."""


class WebhookError(Exception):
    """A request the webhook refuses: ``status``, a stable ``code``, and headers to send."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class RateLimit:
    """A token bucket: ``per_minute`` requests, refilled evenly over the minute."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.at = time.monotonic()

    def retry_after(self) -> int | None:
        """Take a token; ``None`` if there was one, else seconds until there is."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))


class Webhook:
    """One armed ``trigger.webhook`` node."""

    def __init__(self, target: Target, config: WebhookParams, host: Host) -> None:
        self.target = target
        self.config = config
        self.host = host
        self.limit = (
            RateLimit(config.rate_limit_per_minute) if config.rate_limit_per_minute else None
        )
        self._credential: tuple[float, Credential] | None = None

    def admit(self) -> None:
        """Raise 429 beyond the rate limit."""
        wait = self.limit.retry_after() if self.limit else None
        if wait is not None:
            message = f"more than {self.config.rate_limit_per_minute} requests a minute"
            raise WebhookError(429, "rate_limited", message, {"Retry-After": str(wait)})

    def check_size(self, declared: int | None) -> None:
        if declared is not None and declared > self.config.max_body_bytes:
            raise self.too_large()

    def too_large(self) -> WebhookError:
        limit = self.config.max_body_bytes
        return WebhookError(413, "body_too_large", f"the body is larger than {limit} bytes")

    async def authenticate(self, headers: Mapping[str, str]) -> None:
        """Raise 401 unless the request carries the credential's token or password."""
        config = self.config
        if config.auth == "none":
            return
        credential = await self._read_credential()
        data = credential.data
        if config.auth == "basic":
            ok = _basic_matches(headers.get("authorization", ""), data)
            challenge = 'Basic realm="webhook"'
        elif credential.kind == "bearer":
            ok = _equal(_bearer(headers.get("authorization", "")), data.get("token"))
            challenge = 'Bearer realm="webhook"'
        else:
            ok = _equal(headers.get(config.auth_header.lower()), data.get("api_key"))
            challenge = ""
        if not ok:
            extra = {"WWW-Authenticate": challenge} if challenge else {}
            raise WebhookError(401, "unauthorized", "missing or wrong credentials", extra)

    async def _read_credential(self) -> Credential:
        now = time.monotonic()
        if self._credential is not None and now - self._credential[0] < CREDENTIAL_TTL_S:
            return self._credential[1]
        assert self.config.credential is not None
        try:
            credential = await self.host.credentials.reveal(self.config.credential)
        except NotFound:
            message = f"the webhook's credential {self.config.credential!r} no longer exists"
            raise WebhookError(500, "webhook_misconfigured", message) from None
        self._credential = (now, credential)
        return credential

    def payload(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[bytes, bytes]],
        query: bytes,
        body: bytes,
    ) -> dict[str, Any]:
        """``{method, path, headers, query, body}``; raises 400 for a JSON body that is not
        JSON. Headers that carry secrets (the credential's among them) are left out."""
        hidden = set(SECRET_HEADERS)
        if self.config.auth == "header":
            hidden.add(self.config.auth_header.lower())
        return {"path": path, **request_value(method, headers, query, body, hidden=hidden)}

    def answer(self, result: ExecutionResult) -> tuple[int, dict[str, str], bytes]:
        """The HTTP answer of a run that ended (``respond: when_done``)."""
        if result.status is not ExecutionStatus.SUCCEEDED:
            error = {
                "code": "execution_" + result.status.value,
                "message": result.error.message
                if result.error
                else f"the run {result.status.value}",
                "details": {"execution_id": result.execution_id},
            }
            return 500, {"content-type": "application/json"}, _json({"error": error})
        if self.config.response == "custom":
            return custom_answer(result.output)
        return 200, {"content-type": "application/json"}, _json(result.output)


def custom_answer(output: Any) -> tuple[int, dict[str, str], bytes]:
    """``{status, headers, body}`` from a workflow's output: a string body goes as text
    (unless a content-type says otherwise), anything else as JSON.

    The answer is served on the editor's origin and its body may be whatever the caller
    sent, so it never runs as a page of that origin: ``Content-Security-Policy: sandbox``
    (an opaque origin: no cookies, no storage, no scripts) is added to any policy the
    workflow sets, and ``nosniff`` keeps a browser from taking text for HTML."""
    output = output if isinstance(output, dict) else {"body": output}
    status = output.get("status", 200)
    if not isinstance(status, int) or not 200 <= status <= 599:
        status = 500
    headers = _sendable(output.get("headers"))
    # Policies separated by a comma are each enforced: the workflow's cannot loosen ours.
    own_policy = headers.get("content-security-policy")
    headers["content-security-policy"] = f"{own_policy}, sandbox" if own_policy else "sandbox"
    headers["x-content-type-options"] = "nosniff"
    body = output.get("body")
    if isinstance(body, str):
        headers.setdefault("content-type", "text/plain; charset=utf-8")
        return status, headers, body.encode()
    if body is None:
        return status, headers, b""
    headers.setdefault("content-type", "application/json")
    return status, headers, _json(body)


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""A header name (RFC 9110 ``token``)."""
_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
"""A header value: Latin-1 text without control characters (no CR, LF or NUL)."""
_WITHHELD = frozenset(
    {
        # the server frames the answer itself
        "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
        "trailer", "proxy-connection",
        # cookies of the editor's origin are not a workflow's to set (a caller's text in a
        # cookie would fix the session of whoever opens the answer)
        "set-cookie",
    }
)  # fmt: skip


def _sendable(headers: Any) -> dict[str, str]:
    """The headers a workflow gave its answer, without those that cannot or must not be
    sent: a name that is not a token, a value with CR/LF or outside Latin-1 (a caller's
    text, say: it would split the answer or fail it), and the ones in ``_WITHHELD``."""
    sendable = {}
    for name, value in (headers if isinstance(headers, dict) else {}).items():
        name, value = str(name).lower(), str(value)
        if name in _WITHHELD or not _TOKEN.match(name) or not _VALUE.match(value):
            logger.info("webhook answer: header %r left out", name)
            continue
        sendable[name] = value
    return sendable


class WebhookRoutes:
    """Armed webhooks by path and method: what ``/webhook/<path>`` looks up."""

    def __init__(self) -> None:
        self._paths: dict[str, dict[str, Webhook]] = {}

    def add(self, hook: Webhook) -> None:
        methods = self._paths.setdefault(hook.config.path, {})
        for method in hook.config.methods:
            methods[method] = hook

    def remove(self, hook: Webhook) -> None:
        methods = self._paths.get(hook.config.path, {})
        for method in hook.config.methods:
            if methods.get(method) is hook:
                del methods[method]
        if not methods:
            self._paths.pop(hook.config.path, None)

    def resolve(self, method: str, path: str) -> Webhook:
        """The webhook for this request; raises 404 (no such path) or 405 (with Allow)."""
        methods = self._paths.get(path.strip("/"))
        if not methods:
            raise WebhookError(404, "not_found", f"no active webhook at {PREFIX}{path}")
        hook = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        if hook is None:
            allow = ", ".join(sorted(methods))
            raise WebhookError(
                405, "method_not_allowed", f"{method} is not accepted here", {"Allow": allow}
            )
        return hook

    def __len__(self) -> int:
        return len(self._paths)


@dataclass
class WebhookArmed:
    """A webhook while armed: an entry in the routes."""

    routes: WebhookRoutes
    hook: Webhook

    async def start(self) -> None:
        self.routes.add(self.hook)

    async def stop(self) -> None:
        self.routes.remove(self.hook)


class WebhookKind:
    def __init__(self, routes: WebhookRoutes) -> None:
        self.routes = routes

    def parse(self, activation: Mapping[str, Any]) -> WebhookParams:
        return WebhookParams.model_validate({k: v for k, v in activation.items() if k != "kind"})

    def claims(self, config: WebhookParams) -> frozenset[str]:
        return frozenset(f"webhook {method} {PREFIX}{config.path}" for method in config.methods)

    async def check(self, config: WebhookParams, host: Host) -> None:
        if config.auth != "none" and config.credential:
            await check_credential(host, config.credential, AUTH_KINDS[config.auth])

    def arm(self, target: Target, config: WebhookParams, host: Host) -> WebhookArmed:
        return WebhookArmed(self.routes, Webhook(target, config, host))


# -- request parsing ------------------------------------------------------------------------


def request_value(
    method: str,
    headers: Sequence[tuple[bytes, bytes]],
    query: bytes,
    body: bytes,
    *,
    hidden: Collection[str] = SECRET_HEADERS,
) -> dict[str, Any]:
    """An HTTP request as a node's output (a webhook trigger's, a webhook wait's):
    ``{method, headers, query, body}``, without the ``hidden`` headers; the body read by its
    media type (JSON, form fields, multipart fields and files, else text). Raises
    ``WebhookError`` (400) for a body that cannot be read as it says."""
    named = _headers(headers)
    return {
        "method": method,
        "headers": {name: value for name, value in named.items() if name not in hidden},
        "query": _query(query),
        "body": _body(named.get("content-type", ""), body),
    }


def _headers(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _query(raw: bytes) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name, value in urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name not in query:
            query[name] = value
        elif isinstance(query[name], list):
            query[name].append(value)
        else:
            query[name] = [query[name], value]
    return query


def is_json(content_type: str) -> bool:
    """A JSON media type (``application/json``, ``application/*+json``)."""
    mime = content_type.partition(";")[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def _body(content_type: str, body: bytes) -> Any:
    if not body:
        return None
    mime = content_type.partition(";")[0].strip().lower()
    if is_json(content_type):
        try:
            return json.loads(body)
        except ValueError:
            raise WebhookError(400, "request_invalid", "the body is not valid JSON") from None
        except RecursionError:  # bounded: the body's size was checked first
            raise WebhookError(400, "request_invalid", "the body is nested too deeply") from None
    if mime == "application/x-www-form-urlencoded":
        return _query(body)
    if mime == "multipart/form-data":
        return _multipart(content_type, body)
    return body.decode("utf-8", errors="replace")


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Form fields by name; file fields as MediaFormat values."""
    from email.parser import BytesParser
    from email.policy import HTTP

    from tav.core.media import Media, MediaError

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        raise WebhookError(400, "request_invalid", "the multipart body cannot be read")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        decoded = part.get_payload(decode=True)
        content = decoded if isinstance(decoded, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = content.decode("utf-8", errors="replace")
        else:
            try:
                media = Media.from_bytes(content, mime_type=part.get_content_type(), name=filename)
            except MediaError as exc:
                raise WebhookError(413, "body_too_large", str(exc)) from None
            fields[name] = media.to_value()
    return fields


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _basic_matches(header: str, data: Mapping[str, Any]) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, _, password = decoded.partition(":")
    return _equal(username, data.get("username")) & _equal(password, data.get("password"))


def _equal(given: str | None, expected: Any) -> bool:
    if given is None or not isinstance(expected, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _json(value: Any) -> bytes:
    return to_json(value)
