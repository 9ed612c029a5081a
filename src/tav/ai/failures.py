"""Why one model call failed, read from whatever the provider's SDK raised.

The SDKs share no exception tree (openai, anthropic, google-genai, ollama and two
flavours of httpx), so the reading goes by duck typing along the exception's causes: an
HTTP status (``status_code``, ``code`` or ``response.status_code``), a ``Retry-After``
header, or a class whose name says timeout, rate limit or connection. Importing the SDKs
to test ``isinstance`` would load LangChain just to classify an error.

Only what the providers' libraries raise is a provider's failure (``provider_failure``):
an exception of a class from one of them (or from LangChain's own error module), a
timeout, a refused connection, an answer that is not JSON, or ``ProviderError``. Anything
else — a ``TypeError``, a ``KeyError`` — is a bug of ours: trying it on the next model of
the chain would only hide it, so it goes up to the engine's error boundary, which logs it
with its traceback.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tav.ai.providers import PROVIDERS
from tav.core.errors import NodeError
from tav.core.text import clip

MAX_MESSAGE = 240
NETWORK_LIBRARIES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2"})
PROVIDER_LIBRARIES = NETWORK_LIBRARIES | {
    library for provider in PROVIDERS for library in (*provider.libraries, provider.package)
}
"""Top-level packages whose exceptions are the provider's (or the network's) doing: each
provider's SDK and LangChain package (its record says which), and the HTTP clients."""
PROVIDER_MODULES = frozenset({"langchain_core.exceptions", "json.decoder"})
"""Modules whose exceptions are: LangChain's model errors, and an answer that is not JSON
(the SDKs parse the provider's answers; our own parsing is done before the chain runs)."""


class ProviderError(Exception):
    """A provider misbehaving where its SDK raises nothing (a stream that ends empty)."""


def provider_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is the provider's doing rather
    than a bug of ours."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return False
        if isinstance(current, ProviderError | TimeoutError | ConnectionError) or any(
            cls.__module__.partition(".")[0] in PROVIDER_LIBRARIES
            or cls.__module__ in PROVIDER_MODULES
            for cls in type(current).__mro__
        ):
            return True
        current = current.__cause__  # raised *from* it on purpose, not while handling it
    return False


@dataclass(frozen=True)
class Failure:
    outcome: str
    """``failed``, ``rate_limited`` or ``timeout`` (``ProviderAttempt.outcome``)."""
    message: str
    """Short, and without secrets."""
    transient: bool = True
    """Worth trying again later (5xx, 429, timeouts, network)."""
    retry_after: float | None = None
    """Seconds the provider asked us to wait (``Retry-After``)."""
    counts: bool = True
    """Counts towards the circuit breaker (an invalid answer does not)."""


def classify(exc: BaseException, *, timeout_s: float, secrets: tuple[str, ...] = ()) -> Failure:
    """What went wrong, for the attempts record and the decision to fall back."""
    ours = next((e for e in _chain(exc) if isinstance(e, NodeError)), None)
    if ours is not None:  # raised under the SDK (the outbound policy), which wrapped it
        return Failure("failed", ours.message, transient=ours.retryable, counts=False)
    names = {cls.__name__ for e in _chain(exc) for cls in type(e).__mro__}
    status = next((s for e in _chain(exc) if (s := _status(e)) is not None), None)
    retry_after = next((r for e in _chain(exc) if (r := _retry_after(e)) is not None), None)
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        return Failure("timeout", f"no answer within {timeout_s:g} s")
    text = clip(redact(_text(exc), secrets), MAX_MESSAGE)
    if status == 429 or any("RateLimit" in name for name in names):
        return Failure("rate_limited", f"rate limited (HTTP 429): {text}", True, retry_after)
    if status is not None:
        transient = status >= 500 or status in (408, 409)
        return Failure("failed", f"HTTP {status}: {text}", transient, retry_after)
    if any("Connect" in name or "TransportError" in name for name in names):
        return Failure("failed", f"cannot reach the provider: {text}")
    return Failure("failed", text, transient=True)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int | None:
    for value in (
        getattr(exc, "status_code", None),
        getattr(exc, "code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
    ):
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _retry_after(exc: BaseException) -> float | None:
    headers: Any = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        milliseconds = headers.get("retry-after-ms")
        value = headers.get("retry-after")
    except (AttributeError, TypeError):
        return None
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    return parse_retry_after(value)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _text(exc: BaseException) -> str:
    """The first line of the message (redacted, then cut: a secret cut first would no
    longer be recognised)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
