"""What the outbound policy raises: user errors (retrying cannot help), raised from inside
httpx — so they reach whoever sent the request, unwrapped — and reworded by
``tav.nodes.http.request`` to name the call."""

from __future__ import annotations

from tav.core.errors import NodeError


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
