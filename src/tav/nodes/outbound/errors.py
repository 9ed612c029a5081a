"""What the outbound policy raises: user errors (retrying cannot help), raised from inside
httpx — so they reach whoever sent the request, unwrapped — and reworded by
``tav.nodes.http.request`` to name the call.

And the errors of a request that got no answer, worded once for both clients
(``OutboundSession`` and ``tav.nodes.http.request`` over httpx): each names the call with
``what`` and the failure by httpx's name for it (``ConnectError``, ``ReadTimeout``), so
that a workflow sees the same error whichever client sent its request."""

from __future__ import annotations

from tav.core.errors import NodeError, OperationalError


class OutboundRefused(NodeError):
    """A connection the outbound policy refuses; ``reason`` says which address and why."""

    type = "outbound_refused"
    retryable = False

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused by the outbound policy: {reason}")
        self.reason = reason


class ResponseTooLarge(NodeError):
    """A response past ``max_response_bytes`` (as sent, or once decompressed)."""

    type = "response_too_large"
    retryable = False

    def __init__(self, what: str, limit: int, *, decompressed: bool = False) -> None:
        self.limit = limit
        self.decompressed = decompressed
        super().__init__(self.describe(what))

    def describe(self, what: str) -> str:
        once = " once decompressed" if self.decompressed else ""
        return f"the response of {what} is larger than {self.limit} bytes{once}"


def refused(what: str, exc: OutboundRefused) -> NodeError:
    return NodeError(f"{what}: {exc.message}", type=exc.type, retryable=False)


def invalid_url(what: str, exc: Exception) -> NodeError:
    return NodeError(f"{what}: invalid URL: {exc}", type="invalid_url", retryable=False)


def timed_out(what: str, timeout_s: float, name: str) -> OperationalError:
    return OperationalError(f"{what}: no response within {timeout_s:g} s ({name})", type="timeout")


def network_error(what: str, name: str, detail: object) -> OperationalError:
    return OperationalError(f"{what}: {name}: {detail}", type="network_error")
