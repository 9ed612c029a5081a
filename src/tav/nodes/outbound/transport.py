"""The httpx transport every request made for a workflow goes through.

- Connections: only where the outbound policy allows (``GuardedBackend``, at connect
  time, so every redirect hop is judged too).
- Size: ``Content-Length`` is checked as soon as the headers arrive, then the body is
  counted while it streams, both as sent and, for gzip and deflate, decompressed (a few
  kilobytes of gzip can inflate to gigabytes). The decompressed size is counted by
  inflating a bounded slice at a time and dropping it: httpx's own decoders return all
  that a chunk inflates to at once, which is what must not happen. Only gzip and deflate
  are offered in ``Accept-Encoding`` (there is no bounded brotli or zstd decoder at hand),
  and a response compressed otherwise, or twice, is refused.
- Proxies: ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``ALL_PROXY`` are not used: a proxy
  resolves and connects by itself, so the policy could not judge the address.
  ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` still are.

It is made for httpx; ``flavour`` makes the same for httpx2, the fork the OpenAI and
Anthropic SDKs use (same API, other classes).
"""

from __future__ import annotations

import functools
import http.cookiejar
import importlib
import ssl
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx

from tav.core.errors import NodeError
from tav.nodes.outbound.body import INFLATE_SLICE, narrow
from tav.nodes.outbound.errors import ResponseTooLarge
from tav.nodes.outbound.network import Errors, GuardedBackend, Resolver, resolve
from tav.nodes.outbound.policy import OutboundPolicy
from tav.nodes.outbound.pool import pool_class

MAX_CONNECTIONS = 100
"""Connections one client keeps open at most, busy or idle (httpx's default)."""


@dataclass(frozen=True)
class Flavour:
    """An httpx and the httpcore it runs on, imported when the first request is sent."""

    httpx: str = "httpx"
    httpcore: str = "httpcore"

    def modules(self) -> tuple[ModuleType, ModuleType]:
        return importlib.import_module(self.httpx), importlib.import_module(self.httpcore)


HTTPX = Flavour()
HTTPX2 = Flavour("httpx2", "httpcore2")


def client(policy: OutboundPolicy, *, resolver: Resolver = resolve) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that applies ``policy`` to every request it sends, and
    keeps no cookies (``no_cookies``)."""
    return httpx.AsyncClient(
        transport=OutboundTransport(policy, resolver=resolver),
        cookies=no_cookies(),
        trust_env=False,
        max_redirects=policy.max_redirects,
    )


def no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps none. A host's client is shared by every workflow and every
    user: a cookie one server set in answer to one workflow's request must not go out
    with another's request to it (a session taken over). A workflow that needs a cookie
    sends it as a header."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The CA bundle, loaded once per process: it takes tens of milliseconds of blocking
    CPU, and the first request is when it is needed, not at start-up."""
    return httpx.create_ssl_context()


class OutboundTransport(httpx.AsyncBaseTransport):
    """httpx's transport under the outbound policy, made on the first request."""

    def __init__(
        self, policy: OutboundPolicy, *, resolver: Resolver = resolve, flavour: Flavour = HTTPX
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.flavour = flavour
        self._transport: Any = None
        self._http: Any = None

    async def handle_async_request(self, request: Any) -> Any:
        if self._transport is None:
            self._transport = self._make()
        if "accept-encoding" in request.headers:
            request.headers["Accept-Encoding"] = narrow(request.headers["accept-encoding"])
        response = await self._transport.handle_async_request(request)
        try:
            return self._bounded(request, response)
        except NodeError:
            await response.aclose()
            raise

    def _make(self) -> Any:
        http, core = self.flavour.modules()
        self._http = http
        transport = http.AsyncHTTPTransport(verify=ssl_context(), trust_env=False)
        backend = GuardedBackend(
            self.policy, core.AnyIOBackend(), errors=Errors.of(core), resolver=self.resolver
        )
        # httpx's transport takes no network backend, but its connection pool does: the
        # pool is made again, as httpx makes it, with the guarded backend and a pool whose
        # bookkeeping is linear (``tav.nodes.outbound.pool``), keeping as many idle
        # connections as it may open (httpx keeps 20): a burst of requests to one host (the
        # list form of core.http_request) finds its connections open the next time.
        transport._pool = pool_class(core)(
            ssl_context=ssl_context(),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_CONNECTIONS,
            keepalive_expiry=5.0,
            network_backend=backend,
        )
        return transport

    def _bounded(self, request: Any, response: Any) -> Any:
        limit = self.policy.max_response_bytes
        what = f"{request.method} {request.url.scheme}://{request.url.netloc.decode('ascii')}"
        if request.method != "HEAD" and _length(response.headers) > limit:
            raise ResponseTooLarge(what, limit)
        http = self._http
        stream = _stream_type(http.AsyncByteStream)(
            response.stream, limit, _inflater(response.headers, what), what
        )
        return http.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


def _length(headers: Any) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:  # several values, or none that parses: the count still applies
        return 0


def _inflater(headers: Any, what: str) -> Inflater | None:
    encodings = [
        value.strip().lower()
        for value in headers.get_list("content-encoding", split_commas=True)
        if value.strip().lower() not in ("", "identity")
    ]
    if not encodings:
        return None
    if len(encodings) > 1 or encodings[0] in ("br", "zstd"):
        raise NodeError(
            f"the response of {what} is compressed with {', '.join(encodings)}, which "
            "was not asked for (only gzip or deflate, once)",
            type="invalid_response",
        )
    # httpx leaves encodings it does not know as they are: those count as sent.
    return Inflater(encodings[0]) if encodings[0] in ("gzip", "deflate") else None


class Inflater:
    """Counts what a gzip or deflate body inflates to, as httpx's decoders would inflate
    it (gzip: one member; deflate: zlib-wrapped, or raw if the first chunk says so)."""

    def __init__(self, encoding: str) -> None:
        self.raw_fallback = encoding == "deflate"
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))

    def count(self, data: bytes, budget: int) -> int:
        """How many bytes ``data`` inflates to; stops once past ``budget``."""
        total = 0
        while total <= budget and not self.zlib.eof:
            try:
                out = self.zlib.decompress(data, INFLATE_SLICE)
            except zlib.error:
                if not self.raw_fallback:
                    return total  # httpx raises its own DecodingError on this chunk
                self.zlib, self.raw_fallback = zlib.decompressobj(-zlib.MAX_WBITS), False
                continue
            self.raw_fallback = False
            total += len(out)
            data = self.zlib.unconsumed_tail
            if not data and len(out) < INFLATE_SLICE:
                break
        return total


class _Bounded:
    """The response body, counted as it streams; raises ``ResponseTooLarge``."""

    def __init__(self, stream: Any, limit: int, inflater: Inflater | None, what: str) -> None:
        self.stream = stream
        self.limit = limit
        self.inflater = inflater
        self.what = what

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = inflated = 0
        async for chunk in self.stream:
            sent += len(chunk)
            if sent > self.limit:
                raise ResponseTooLarge(self.what, self.limit)
            if self.inflater is not None:
                inflated += self.inflater.count(chunk, self.limit - inflated)
                if inflated > self.limit:
                    raise ResponseTooLarge(self.what, self.limit, decompressed=True)
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


@functools.cache
def _stream_type(base: type) -> type[_Bounded]:
    """``_Bounded`` as an ``AsyncByteStream`` of the flavour's httpx (which checks)."""
    return type("BoundedStream", (_Bounded, base), {})
