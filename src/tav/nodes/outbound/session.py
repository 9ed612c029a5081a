"""The session ``core.http_request`` sends through: aiohttp under the outbound policy.

One ``OutboundSession`` per host (``HostServices.http_session``), shared by every
workflow, keeping connections open between requests. Each request goes through the policy
as the httpx client's do (``tav.nodes.outbound.transport``):

- connections: only to addresses the policy allows, judged on the address connected to
  (``tav.nodes.outbound.connector``: names by the connector's resolver, each time it
  opens a connection; a host that is an address by this session, before each request);
- redirects: followed here, one hop at a time, each hop judged as a request of its own,
  at most ``max_redirects``; they change the method, the body and the headers as httpx
  does (303, and 302 but for HEAD, become GET; a 301 to a POST too; ``Authorization``
  goes only to the same origin or its https upgrade; ``Cookie`` is never sent on);
- size: ``Content-Length`` checked as soon as the headers arrive, then the body counted
  as it streams, as sent and once decompressed (``tav.nodes.outbound.body``);
- no cookies kept, no proxy from the environment (a proxy would resolve and connect by
  itself), ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured (the httpx clients' CA bundle);
- timeouts: ``timeout_s`` bounds each wait, as httpx's timeout does: for a connection
  (from the pool, or a new one: resolving and connecting), and between two reads.

Failures are classified for retries as ``tav.nodes.http.request`` classifies httpx's
(``type`` ``outbound_refused``, ``response_too_large``, ``too_many_redirects``,
``invalid_url``: the request's fault; ``timeout``, ``network_error``: operational), with
the same words (``ConnectError``, ``ReadTimeout``, ...), so a workflow sees the same
errors whichever client sent its request.

Why aiohttp here and httpx elsewhere: ``core.http_request``'s list form and ``core.map``
send dozens of requests at once from one event loop (``bench/fanout.py``), and a request
through httpx, httpcore and anyio (pure Python, with a cancel scope, a lock and a trace
per request) takes about five times the instructions of one through aiohttp (its parser
and headers in C): 2.6 M against 0.5 M, counted with callgrind. The service clients and the model
providers' SDKs keep httpx, which those SDKs require. aiohttp is imported with the first
request: a process that sends none never loads it.
"""

from __future__ import annotations

import asyncio
import codecs
import json as jsonlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from tav.core.errors import NodeError
from tav.nodes.outbound.body import (
    ACCEPT_ENCODING,
    content_length,
    encodings,
    inflater,
    narrow,
    read_body,
)
from tav.nodes.outbound.errors import (
    OutboundRefused,
    ResponseTooLarge,
    invalid_url,
    network_error,
    refused,
    timed_out,
)
from tav.nodes.outbound.network import Resolver, resolve
from tav.nodes.outbound.policy import OutboundPolicy, literal

if TYPE_CHECKING:
    import aiohttp
    from multidict import CIMultiDict, CIMultiDictProxy

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_KEPT_TIMEOUTS = 64
"""Timeouts kept made, by ``timeout_s``: a workflow rarely has more than a few."""
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_PLAIN = re.compile(
    rf"(?P<scheme>https?)://(?P<host>{_LABEL}(?:\.{_LABEL})*)(?::(?P<port>[1-9][0-9]{{0,4}}))?"
    r"(?P<rest>(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(?:\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?)"
)
"""A URL httpx leaves as written (``Target.of``): a lower-case host name or IPv4 address,
a port, and a path and query of the characters it does not escape."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL to send to, normalised as httpx normalises it (``text``), and its parts."""

    text: str
    scheme: str
    host: str
    port: int | None
    """``None``: the scheme's default."""

    @classmethod
    def of(cls, url: str | httpx.URL) -> Target:
        """``url`` normalised; ``httpx.InvalidURL`` when it is not a URL. A URL httpx
        would leave as written is taken as it is, without parsing it as httpx does (which
        costs more than the rest of preparing a request)."""
        if isinstance(url, str):
            plain = _PLAIN.fullmatch(url)
            if plain is not None and _as_written(plain):
                port = plain["port"]
                return cls(url, plain["scheme"], plain["host"], int(port) if port else None)
            url = httpx.URL(url)
        return cls(str(url), url.scheme, url.host, url.port)


def _as_written(plain: re.Match[str]) -> bool:
    """Whether httpx would leave a URL that matches ``_PLAIN`` as written: it drops a
    default port and dot segments, checks ports and IDNA names."""
    port = plain["port"]
    if port is not None and (int(port) > 65535 or int(port) == _DEFAULT_PORTS[plain["scheme"]]):
        return False
    return "/." not in plain["rest"] and "xn--" not in plain["host"]


@dataclass(slots=True)
class OutboundResponse:
    """A response, read whole (and decompressed). Its attributes are named as httpx's,
    so ``tav.nodes.http.check`` and ``retry_after`` read either."""

    status_code: int
    reason_phrase: str
    headers: CIMultiDictProxy[str]
    """Case-insensitive; a name sent several times has several values (``getall``)."""
    content: bytes
    charset: str | None = None

    @property
    def text(self) -> str:
        """The body as text: in the ``Content-Type``'s charset, else UTF-8 (as httpx)."""
        return self.content.decode(_codec(self.charset), errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return jsonlib.loads(self.content)


def _codec(charset: str | None) -> str:
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return "utf-8"


class OutboundSession:
    """Sends requests made for workflows under ``policy``; made on the first request, in
    the event loop it is then used from. ``resolver``: how names are resolved (tests)."""

    def __init__(self, policy: OutboundPolicy, *, resolver: Resolver = resolve) -> None:
        self.policy = policy
        self.resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._waits: dict[float, aiohttp.ClientTimeout] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        what: str,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        follow_redirects: bool = True,
    ) -> OutboundResponse:
        """The response, whatever its status. Raises ``NodeError`` (the request's fault)
        or ``OperationalError`` (retryable) with a message that starts with ``what``."""
        import aiohttp

        session = self._open()
        try:
            target = Target.of(url)
        except httpx.InvalidURL as exc:
            raise invalid_url(what, exc) from None
        sent, body = _encoded(headers, json, content)
        try:
            return await self._follow(
                session, _Hop(method, target, sent, body), what, timeout_s, follow_redirects
            )
        except OutboundRefused as exc:
            raise refused(what, exc) from None
        except (aiohttp.ClientError, TimeoutError, _Failure) as exc:
            raise _classified(exc, what, timeout_s) from None

    async def _follow(
        self,
        session: aiohttp.ClientSession,
        hop: _Hop,
        what: str,
        timeout_s: float,
        follow_redirects: bool,
    ) -> OutboundResponse:
        waits = self._waits.get(timeout_s)
        if waits is None:
            import aiohttp

            waits = aiohttp.ClientTimeout(
                total=None, connect=timeout_s, sock_connect=timeout_s, sock_read=timeout_s
            )
            if len(self._waits) < _KEPT_TIMEOUTS:
                self._waits[timeout_s] = waits
        redirects = 0
        while True:
            self._judge(hop.url)
            response = await self._exchange(session, hop, waits, what)
            if not (follow_redirects and _redirect(response)):
                return response
            if redirects == self.policy.max_redirects:
                raise NodeError(
                    f"{what}: more than {self.policy.max_redirects} redirects",
                    type="too_many_redirects",
                    retryable=False,
                )
            redirects += 1
            hop = hop.redirected(response)

    def _judge(self, url: Target) -> None:
        """Refuse a URL this session cannot send, or whose host is an address the policy
        refuses (a name is judged when it is resolved, by the connector)."""
        if url.scheme not in _DEFAULT_PORTS:
            raise _Failure(
                "UnsupportedProtocol",
                f"Request URL has an unsupported protocol '{url.scheme}://'.",
            )
        try:
            ip = literal(url.host)
        except ValueError as exc:
            raise _Failure("InvalidURL", str(exc)) from None
        if ip is not None:
            reason = self.policy.refusal(url.host, ip, url.port or _DEFAULT_PORTS[url.scheme])
            if reason is not None:
                raise OutboundRefused(reason)

    async def _exchange(
        self, session: aiohttp.ClientSession, hop: _Hop, waits: aiohttp.ClientTimeout, what: str
    ) -> OutboundResponse:
        """One request and its response, read under the size limit."""
        import yarl

        target = yarl.URL(hop.url.text, encoded=True)  # as httpx normalised it, not again
        async with session.request(
            hop.method,
            target,
            headers=hop.headers,
            data=hop.body,
            timeout=waits,
            allow_redirects=False,
        ) as answer:
            limit, headers = self.policy.max_response_bytes, answer.headers
            try:
                length = headers.get("Content-Length")
                announced = content_length(length)
                if hop.method != "HEAD" and announced > limit:
                    raise ResponseTooLarge(what, limit)
                codings = encodings(headers.getall("Content-Encoding", ()))
                if not codings and length is not None and length.isdigit():
                    # Read as announced, which is within the limit: aiohttp's parser
                    # ends the body at that length.
                    content = await answer.read()
                else:
                    content = await read_body(
                        answer.content.iter_any(), inflater(codings, what), limit=limit, what=what
                    )
            except NodeError:
                answer.close()  # the rest of the body is not read: the connection goes
                raise
            return OutboundResponse(
                answer.status, answer.reason or "", answer.headers, content, answer.charset
            )

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this OutboundSession is closed")
        loop = asyncio.get_running_loop()
        if self._session is None:
            import aiohttp

            from tav.nodes.outbound.connector import connector

            self._session = aiohttp.ClientSession(
                connector=connector(self.policy, self.resolver),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
            )
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("an OutboundSession is used only from the event loop it began in")
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> OutboundSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _encoded(
    headers: Mapping[str, str] | None, json: Any, content: str | bytes | None
) -> tuple[CIMultiDict[str], bytes | None]:
    """The headers and body to send, as httpx would send them: compact JSON in UTF-8
    (``Content-Type`` unless the workflow set one), text in UTF-8, and only the encodings
    that can be inflated with a bound offered."""
    from multidict import CIMultiDict

    sent: CIMultiDict[str] = CIMultiDict(headers or {})
    asked = sent.get("Accept-Encoding")
    sent["Accept-Encoding"] = ACCEPT_ENCODING if asked is None else narrow(asked)
    if json is not None:
        text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        sent.setdefault("Content-Type", "application/json")
        return sent, text.encode()
    if isinstance(content, str):
        return sent, content.encode()
    return sent, content


def _redirect(response: OutboundResponse) -> bool:
    return response.status_code in REDIRECTS and "Location" in response.headers


@dataclass(frozen=True, slots=True)
class _Hop:
    """One request of a chain of redirects."""

    method: str
    url: Target
    headers: CIMultiDict[str]
    body: bytes | None

    def redirected(self, response: OutboundResponse) -> _Hop:
        """The request ``response`` redirects to, as httpx would send it."""
        location = _location(httpx.URL(self.url.text), response.headers["Location"])
        url = Target.of(location)
        status, method = response.status_code, self.method
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            method = "GET"
        headers, body = self.headers.copy(), self.body
        if not _same_origin(self.url, url):
            if not _https_upgrade(self.url, url):
                headers.popall("Authorization", None)
            if "Host" in headers:
                headers["Host"] = location.netloc.decode("ascii")
        if method != self.method and method == "GET":
            headers.popall("Content-Length", None)
            headers.popall("Transfer-Encoding", None)
            body = None
        headers.popall("Cookie", None)
        return _Hop(method, url, headers, body)


def _location(url: httpx.URL, location: str) -> httpx.URL:
    try:
        target = httpx.URL(location)
    except httpx.InvalidURL as exc:
        raise _Failure("RemoteProtocolError", f"Invalid URL in location header: {exc}.") from None
    if target.scheme and not target.host:
        target = target.copy_with(host=url.host)
    return url.join(target) if target.is_relative_url else target


def _port(url: Target) -> int | None:
    return url.port or _DEFAULT_PORTS.get(url.scheme)


def _same_origin(url: Target, other: Target) -> bool:
    return url.scheme == other.scheme and url.host == other.host and _port(url) == _port(other)


def _https_upgrade(url: Target, target: Target) -> bool:
    return (
        url.host == target.host
        and url.scheme == "http"
        and _port(url) == 80
        and target.scheme == "https"
        and _port(target) == 443
    )


class _Failure(Exception):
    """A request this session cannot send, or an answer HTTP does not allow; ``name`` is
    httpx's for the same failure."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _classified(exc: Exception, what: str, timeout_s: float) -> NodeError:
    """The error a failed request raises, in httpx's words (``ConnectError``, ...)."""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return timed_out(what, timeout_s, "ConnectTimeout")
    if isinstance(exc, TimeoutError):  # aiohttp's read timeout is one too
        return timed_out(what, timeout_s, "ReadTimeout")
    if isinstance(exc, aiohttp.InvalidURL) or (
        isinstance(exc, _Failure) and exc.name == "InvalidURL"
    ):
        return invalid_url(what, exc)
    if isinstance(exc, _Failure):
        return network_error(what, exc.name, exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return network_error(what, "ConnectError", exc.os_error)
    name = next(name for kind, name in _names() if isinstance(exc, kind))
    return network_error(what, name, exc)


def _names() -> list[tuple[type[BaseException], str]]:
    """aiohttp's other errors, most specific first, by httpx's name for the failure."""
    import aiohttp

    return [
        (aiohttp.ServerDisconnectedError, "RemoteProtocolError"),
        (aiohttp.ClientPayloadError, "RemoteProtocolError"),
        (aiohttp.ClientResponseError, "RemoteProtocolError"),
        (aiohttp.ClientOSError, "ReadError"),
        (aiohttp.ClientError, "NetworkError"),
    ]
