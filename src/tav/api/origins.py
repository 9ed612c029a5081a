"""The Host names the server answers, and which origins its browser sessions trust.

Two attacks from a web page the owner happens to open, both with the owner's browser:

- Cross-site requests. A page on ``evil.example`` posts to ``http://127.0.0.1:8000/api/v1``;
  the browser sends the session cookie along (a top-level form post, or ``fetch`` with a
  body of no declared type, which FastAPI reads as JSON). The browser also sends an
  ``Origin`` header naming ``evil.example``, which the page cannot change: so unsafe
  requests authenticated by the session cookie must come from the server's own origin
  (``OriginPolicy``, applied by ``tav.api.gate``). API keys are not affected: a browser
  never adds an ``Authorization`` header by itself.
- DNS rebinding. ``evil.example`` starts resolving to 127.0.0.1, and its page talks to the
  server as its own origin: same-origin to the browser, so neither CORS nor SameSite stops
  it. What gives it away is the ``Host`` header, which still says ``evil.example``. So the
  server answers only the names it is configured for (``HostGuard``): localhost,
  127.0.0.1 and [::1] (any port) always, the names in ``TAV_ALLOWED_HOSTS`` and the hosts
  of ``TAV_PUBLIC_ORIGINS``; anything else gets 400 before any route runs.

``HostGuard`` is hand-written rather than Starlette's ``TrustedHostMiddleware``, whose
rules it keeps (exact names, ``*.example.com``, ``*``): that one answers a plain-text
"Invalid host header" (every other error here is JSON and says what to change), and brings
a www-redirect this server never wants.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from tav.api.errors import send_error
from tav.settings import Settings

logger = logging.getLogger("tav.api")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Names the server always answers: this machine's own."""
DEFAULT_PORTS = {"http": 80, "https": 443}
WEBSOCKET_SCHEMES = {"ws": "http", "wss": "https"}
FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-real-ip")
"""Headers a proxy adds: a request carrying one is not taken for one from this machine."""


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


@lru_cache(maxsize=1024)
def split_host(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` of a Host header as (lowercase name without brackets, port), or
    ``None`` when it is not one. Cached: nearly every request carries the same few."""
    if not value or any(char in value for char in "/\\@?#% \t"):
        return None
    try:
        parts = urlsplit(f"//{value}")
        name, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, a bracket left open
        return None
    return (name.rstrip("."), port) if name else None


@lru_cache(maxsize=1024)
def parse_origin(value: str) -> Origin | None:
    """The origin of an ``Origin`` header or of any absolute http(s) URL (a ``Referer``)."""
    try:
        parts = urlsplit(value.strip())
        scheme, name, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not name:
        return None  # "null" (a sandboxed frame, a file), or not a web origin at all
    return Origin(scheme, name.rstrip("."), port or DEFAULT_PORTS[scheme])


def own_origin(scope: Scope, host: str) -> Origin | None:
    """The origin the request was sent to: its scheme and its Host header (a WebSocket's
    ``ws`` and ``wss`` are the page's ``http`` and ``https``)."""
    scheme = scope.get("scheme", "http")
    scheme = WEBSOCKET_SCHEMES.get(scheme, scheme)
    split = split_host(host)
    if split is None or scheme not in DEFAULT_PORTS:
        return None
    name, port = split
    return Origin(scheme, name, port or DEFAULT_PORTS[scheme])


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class HostPolicy:
    """The Host names the server answers."""

    def __init__(self, patterns: Iterable[str]) -> None:
        cleaned = [pattern.strip().lower().strip("[]").rstrip(".") for pattern in patterns]
        self.any = "*" in cleaned
        self.names = LOCAL_HOSTS | {p for p in cleaned if p and not p.startswith("*")}
        self.suffixes = tuple(p[1:] for p in cleaned if p.startswith("*.") and len(p) > 2)

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        public = [origin.host for origin in public_origins(settings)]
        return cls([*settings.allowed_hosts, *public])

    def allows(self, name: str) -> bool:
        return self.any or name in self.names or name.endswith(self.suffixes)


def public_origins(settings: Settings) -> list[Origin]:
    found = []
    for value in settings.public_origins:
        origin = parse_origin(value)
        if origin is None:
            logger.warning("TAV_PUBLIC_ORIGINS: %r is not an http(s) origin; ignored", value)
        else:
            found.append(origin)
    return found


class HostGuard:
    """Pure ASGI middleware: 400 ``host_not_allowed`` for a Host the policy does not allow,
    on every path (API, webhooks, the editor) and before anything else runs."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.policy.any:
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host") or ""
        split = split_host(host)
        if split is not None and self.policy.allows(split[0]):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Host not allowed"})
        else:
            message = (
                f"Host not allowed: this server does not answer to {host!r}; "
                "add the name to TAV_ALLOWED_HOSTS if it is meant to"
            )
            await send_error(send, 400, "host_not_allowed", message)


class OriginPolicy:
    """Whether an unsafe request comes from the server's own origin (or a public one)."""

    def __init__(self, public: Iterable[Origin]) -> None:
        self.public = frozenset(public)

    def source(self, scope: Scope) -> str | None:
        """Where the browser says the request comes from: ``Origin``, else ``Referer``."""
        return header(scope, b"origin") or header(scope, b"referer")

    def trusts(self, scope: Scope, source: str) -> bool:
        origin = parse_origin(source)
        if origin is None:
            return False
        return origin in self.public or origin == own_origin(scope, header(scope, b"host") or "")


def from_this_machine(scope: Scope, headers: Mapping[bytes, bytes] | None = None) -> bool:
    """A request from a loopback address, to a localhost name, that no proxy forwarded
    (a proxy on this machine connects from 127.0.0.1 too), and, if a browser sent it,
    from a localhost page."""
    client = scope.get("client")
    if not client or not _loopback(client[0]):
        return False
    found = dict(scope["headers"]) if headers is None else headers
    if any(name in found for name in FORWARDING_HEADERS):
        return False
    host = split_host(found.get(b"host", b"").decode("latin-1"))
    if host is None or host[0] not in LOCAL_HOSTS:
        return False
    source = found.get(b"origin") or found.get(b"referer")
    if source is None:
        return True
    origin = parse_origin(source.decode("latin-1"))
    return origin is not None and origin.host in LOCAL_HOSTS


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))
