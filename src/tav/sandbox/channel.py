"""The sandbox's channel: frames of a 4-byte big-endian length and that many bytes.

To the sandbox, ``marshal`` (which the interpreter has without importing anything) of the
host's own JSON data; from it, JSON, which the host parses and never trusts.
"""

from __future__ import annotations

import asyncio
import json
import marshal
from typing import Any

HEAD = 4
FRAME_COST = 64
"""What a frame from the sandbox counts against the output limit at least."""


class TooLarge(Exception):
    """A frame past the size its reader takes."""


def encode(message: Any) -> bytes:
    """``message`` for the sandbox: ``marshal`` (which the interpreter has without
    importing anything), of JSON data."""
    try:
        data = marshal.dumps(message)
    except ValueError:  # a type marshal does not know: made plain JSON data first
        data = marshal.dumps(json.loads(json.dumps(message, default=str)))
    return len(data).to_bytes(HEAD, "big") + data


async def read(reader: asyncio.StreamReader, limit: int) -> tuple[Any, int]:
    """The next frame and its size: ``None`` at the end, ``b""`` for bytes that are not
    JSON; ``TooLarge`` past ``limit`` bytes."""
    try:
        head = await reader.readexactly(HEAD)
        size = int.from_bytes(head, "big")
        if size > limit + 1024:
            raise TooLarge
        return json.loads(await reader.readexactly(size)), size
    except asyncio.IncompleteReadError:
        return None, 0
    except ValueError:
        return b"", 0  # not JSON: written by the code itself over its channel
