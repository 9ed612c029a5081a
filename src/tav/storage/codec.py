"""Compact storage of JSON values: compact JSON, zlib-compressed (level 6).

zlib (standard library) rather than zstd: the blobs are small, and level 6 gets most of the
gain at a cost far below the database write itself.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from pydantic_core import to_jsonable_python


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=to_jsonable_python)


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def pack(value: Any) -> bytes:
    return zlib.compress(dumps(value).encode(), 6)


def unpack(data: bytes | None) -> Any:
    return None if data is None else json.loads(zlib.decompress(data))
