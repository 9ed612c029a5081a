"""A response body read under the size limit, as sent and once decompressed.

``read_body`` takes the body's chunks as they arrive and returns it whole, decoded:
``Content-Length`` is checked before the first chunk is read, the bytes sent are counted
as they stream, and a gzip or deflate body is inflated a bounded slice at a time, so that
neither the sent nor the inflated bytes held ever pass the limit by more than a slice (a
few kilobytes of gzip can inflate to gigabytes: ``zlib.decompress`` of a chunk at once is
what must not happen). It decodes as httpx does, so ``core.http_request`` answers the same
whichever client sent it: gzip is one member (what follows it is ignored), deflate is
zlib-wrapped or, if its first chunk says so, raw; an encoding it does not know counts as
sent. Only gzip and deflate are offered (``ACCEPT_ENCODING``: there is no bounded brotli or
zstd decoder at hand), and a body compressed otherwise, or twice, is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterable

from tav.core.errors import NodeError, OperationalError
from tav.nodes.outbound.errors import ResponseTooLarge

ACCEPTED_ENCODINGS = ("gzip", "deflate", "identity")
ACCEPT_ENCODING = "gzip, deflate"
"""What requests offer when the workflow does not say (httpx's default, narrowed)."""
INFLATE_SLICE = 64 * 1024


def narrow(accept_encoding: str) -> str:
    """``Accept-Encoding`` without the encodings that cannot be inflated with a bound."""
    kept = [
        part.strip()
        for part in accept_encoding.split(",")
        if part.split(";")[0].strip().lower() in ACCEPTED_ENCODINGS
    ]
    return ", ".join(kept) or "identity"


def content_length(value: str | None) -> int:
    """The announced length, or 0 when there is none that parses (several values, say):
    the count while reading still applies."""
    try:
        return int(value or "0")
    except ValueError:
        return 0


def encodings(values: Iterable[str]) -> list[str]:
    """The content codings of ``Content-Encoding`` header values, in order, less identity."""
    found = [part.strip().lower() for value in values for part in value.split(",")]
    return [coding for coding in found if coding not in ("", "identity")]


def inflater(codings: list[str], what: str) -> Inflater | None:
    """The decoder of a body sent with ``codings``; ``None``: it is read as sent."""
    if not codings:
        return None
    if len(codings) > 1 or codings[0] in ("br", "zstd"):
        raise NodeError(
            f"the response of {what} is compressed with {', '.join(codings)}, which "
            "was not asked for (only gzip or deflate, once)",
            type="invalid_response",
        )
    return Inflater(codings[0], what) if codings[0] in ("gzip", "deflate") else None


async def read_body(
    chunks: AsyncIterable[bytes], decoder: Inflater | None, *, limit: int, what: str
) -> bytes:
    """The whole body, decoded; ``ResponseTooLarge`` once more than ``limit`` bytes were
    sent or inflated."""
    parts: list[bytes] = []
    sent = size = 0
    async for chunk in chunks:
        sent += len(chunk)
        if sent > limit:
            raise ResponseTooLarge(what, limit)
        data = chunk if decoder is None else decoder.inflate(chunk, limit - size)
        size += len(data)
        if size > limit:
            raise ResponseTooLarge(what, limit, decompressed=True)
        parts.append(data)
    if decoder is not None:
        tail = decoder.inflate(b"", limit - size)
        if size + len(tail) > limit:
            raise ResponseTooLarge(what, limit, decompressed=True)
        parts.append(tail)
    return b"".join(parts)


class Inflater:
    """Inflates a gzip or deflate body a slice at a time, as httpx's decoders would."""

    def __init__(self, coding: str, what: str) -> None:
        self.coding = coding
        self.what = what
        self.raw_fallback = coding == "deflate"
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | (16 if coding == "gzip" else 0))

    def inflate(self, data: bytes, budget: int) -> bytes:
        """What ``data`` inflates to; stops once past ``budget`` (the caller refuses it).
        ``b""`` asks for what is still held back."""
        out: list[bytes] = []
        total = 0
        while total <= budget and not self.zlib.eof:
            try:
                piece = self.zlib.decompress(data, INFLATE_SLICE)
            except zlib.error as exc:
                if not self.raw_fallback:
                    raise OperationalError(
                        f"the response of {self.what} is not valid {self.coding}: {exc}",
                        type="invalid_response",
                    ) from None
                self.zlib, self.raw_fallback = zlib.decompressobj(-zlib.MAX_WBITS), False
                continue
            self.raw_fallback = False
            out.append(piece)
            total += len(piece)
            data = self.zlib.unconsumed_tail
            if not data and len(piece) < INFLATE_SLICE:
                break
        return b"".join(out)
