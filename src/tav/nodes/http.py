"""HTTP calls from nodes and the service clients, with failures classified for retries.

``request`` sends through an ``httpx.AsyncClient`` (the service clients, custom nodes),
``send`` through an ``OutboundSession`` (``core.http_request``): the same failures raise
the same errors from both, and ``check``, ``json_body`` and ``retry_after`` read either's
response (``Answer``).

Network errors, timeouts, 5xx and 429 are operational (retryable), honouring a
``Retry-After`` header or a ``retry_after`` in a JSON body (Discord, Telegram); any other
4xx is the request's fault and is not retried. Messages name the call with ``what``
(``Slack chat.postMessage``, ``GET https://...``): service clients never pass a URL that
may carry a token (Telegram's does).

``params`` are merged into the query string the URL already has (a parameter named in both
takes the value from ``params``): httpx would replace the URL's query with them.
The outbound policy's refusals, a response over the size limit and too many redirects are
the request's fault and are not retried.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from tav.core.errors import NodeError, OperationalError
from tav.core.text import clip
from tav.nodes.outbound import OutboundRefused, OutboundResponse, OutboundSession, ResponseTooLarge
from tav.nodes.outbound.errors import invalid_url, network_error, refused, timed_out


class Answer(Protocol):
    """What ``check`` and ``retry_after`` read of a response: an ``httpx.Response`` or
    an ``OutboundResponse``."""

    @property
    def status_code(self) -> int: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    timeout_s: float,
    json: Any = None,
    content: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    **options: Any,
) -> httpx.Response:
    """The response, whatever its status; raises ``OperationalError`` when there is none."""
    try:
        return await client.request(
            method,
            with_query(url, params),
            json=json,
            content=content,
            headers=headers,
            timeout=timeout_s,
            **options,
        )
    except OutboundRefused as exc:
        raise refused(what, exc) from None
    except ResponseTooLarge as exc:
        raise NodeError(exc.describe(what), type=exc.type, retryable=False) from None
    except httpx.TooManyRedirects:
        raise NodeError(
            f"{what}: more than {client.max_redirects} redirects",
            type="too_many_redirects",
            retryable=False,
        ) from None
    except httpx.TimeoutException as exc:
        raise timed_out(what, timeout_s, type(exc).__name__) from None
    except httpx.TransportError as exc:
        raise network_error(what, type(exc).__name__, exc) from None
    except httpx.InvalidURL as exc:
        raise invalid_url(what, exc) from None


async def send(
    session: OutboundSession,
    method: str,
    url: str,
    *,
    what: str,
    timeout_s: float,
    json: Any = None,
    content: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    follow_redirects: bool = True,
) -> OutboundResponse:
    """``request`` through ``session``: the response, whatever its status; raises
    ``OperationalError`` when there is none."""
    try:
        target = with_query(url, params) if params else url
    except httpx.InvalidURL as exc:
        raise invalid_url(what, exc) from None
    return await session.request(
        method,
        target,
        what=what,
        timeout_s=timeout_s,
        headers=headers,
        json=json,
        content=content,
        follow_redirects=follow_redirects,
    )


def with_query(url: str, params: Mapping[str, Any] | None) -> httpx.URL:
    """``url`` with ``params`` merged into its query string. The URL's own query is kept
    as written (a signed URL's signature covers its exact bytes) unless ``params`` names
    one of its parameters."""
    parsed = httpx.URL(url)
    if not params:
        return parsed
    extra = httpx.QueryParams(dict(params))
    if set(parsed.params.keys()) & set(extra.keys()):
        return parsed.copy_merge_params(extra)
    query = b"&".join(part for part in (parsed.query, str(extra).encode("ascii")) if part)
    return parsed.copy_with(query=query)


def check(response: Answer, what: str) -> None:
    """Raise for a 4xx or 5xx answer: ``OperationalError`` for 5xx and 429."""
    status = response.status_code
    if status < 400:
        return
    message = f"{what} answered {status} {response.reason_phrase}"
    snippet = clip(response.text.strip(), 200)  # not cut inside a word: it may be a secret
    if snippet:
        message += f": {snippet}"
    if status >= 500 or status == 429:
        raise OperationalError(message, type="http_error", retry_after=retry_after(response))
    raise NodeError(message, type="http_error", retryable=False)


def json_body(response: Answer, what: str) -> Any:
    """The JSON an API answered; a body that is not JSON is an operational error (a proxy's
    error page, a truncated answer)."""
    try:
        return response.json()
    except ValueError:
        raise OperationalError(
            f"{what} answered {response.status_code} with no JSON: {clip(response.text, 200)!r}",
            type="invalid_response",
        ) from None


def retry_after(response: Answer) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or an HTTP date) or a JSON body's
    ``retry_after`` (Discord) or ``parameters.retry_after`` (Telegram)."""
    value = response.headers.get("retry-after", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return _body_retry_after(response)


def _body_retry_after(response: Answer) -> float | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for holder in (data, data.get("parameters")):
        if isinstance(holder, dict) and isinstance(holder.get("retry_after"), int | float):
            return max(0.0, float(holder["retry_after"]))
    return None
