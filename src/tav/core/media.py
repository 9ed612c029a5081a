"""MediaFormat: one model for every non-trivial value that crosses an edge.

A media value says what it is (``kind``, ``mime_type``) and carries its content either
inline (``data``: text for ``text``, any JSON for ``json``, base64 for binary kinds; small
values only) or as a ``uri`` into the data dir's files (large values; never base64 in
the database). Nodes recognise one by its ``"media": "v1"`` marker, so a plain dict that
happens to have a ``kind`` key is never mistaken for one.

LLM nodes turn media into provider content blocks (``tav.ai``); exports and file nodes
produce ``file`` values with a download URL.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from tav.core.model import Model

MediaKind = Literal["text", "json", "image", "audio", "video", "file"]
BINARY_KINDS: frozenset[str] = frozenset({"image", "audio", "video", "file"})
MAX_INLINE_BYTES = 256 * 1024
"""Larger content goes to a file and travels as a ``uri``."""
MARKER = "v1"


class MediaError(ValueError):
    """A value that is not valid MediaFormat, with what is wrong."""


class Media(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    media: Literal["v1"] = Field("v1", description="Marks a MediaFormat value.")
    kind: MediaKind
    mime_type: str = Field(min_length=1, description="e.g. image/png, text/plain")
    data: Any = Field(None, description="Inline content: text, JSON, or base64 for binary kinds.")
    uri: str | None = Field(None, description="Where the content is, when not inline.")
    name: str | None = None
    size: int | None = Field(None, ge=0, description="Size of the content in bytes.")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _content(self) -> Media:
        if (self.data is None) == (self.uri is None):
            raise ValueError("a media value has either inline data or a uri, not both or none")
        if self.data is not None and self.kind in BINARY_KINDS:
            if not isinstance(self.data, str):
                raise ValueError(f"inline data of a {self.kind} is a base64 string")
            try:
                base64.b64decode(self.data, validate=True)
            except binascii.Error:
                raise ValueError(f"inline data of a {self.kind} is not valid base64") from None
        if self.kind == "text" and self.data is not None and not isinstance(self.data, str):
            raise ValueError("inline data of a text is a string")
        return self

    # -- building -------------------------------------------------------------------------

    @classmethod
    def text(cls, text: str, *, mime_type: str = "text/plain", **extra: Any) -> Media:
        return cls(kind="text", mime_type=mime_type, data=text, size=len(text.encode()), **extra)

    @classmethod
    def json_value(cls, value: Any, **extra: Any) -> Media:
        return cls(kind="json", mime_type="application/json", data=value, **extra)

    @classmethod
    def from_bytes(
        cls,
        content: bytes,
        *,
        mime_type: str | None = None,
        name: str | None = None,
        kind: MediaKind | None = None,
        **extra: Any,
    ) -> Media:
        """Inline binary content; raises ``MediaError`` beyond ``MAX_INLINE_BYTES``."""
        if len(content) > MAX_INLINE_BYTES:
            raise MediaError(
                f"{len(content)} bytes is too large to travel inline "
                f"(limit {MAX_INLINE_BYTES}); store it as a file and pass its uri"
            )
        mime = mime_type or guess_mime_type(name) or "application/octet-stream"
        kind = kind or kind_of(mime)
        if kind in ("text", "json"):
            try:
                text = content.decode("utf-8")
                data = text if kind == "text" else json.loads(text)
            except ValueError:
                kind = "file"
            else:
                return cls(
                    kind=kind, mime_type=mime, data=data, name=name, size=len(content), **extra
                )
        return cls(
            kind=kind,
            mime_type=mime,
            data=base64.b64encode(content).decode("ascii"),
            name=name,
            size=len(content),
            **extra,
        )

    @classmethod
    def file(
        cls,
        uri: str,
        *,
        mime_type: str,
        name: str | None = None,
        size: int | None = None,
        **extra: Any,
    ) -> Media:
        return cls(
            kind=kind_of(mime_type), mime_type=mime_type, uri=uri, name=name, size=size, **extra
        )

    # -- reading --------------------------------------------------------------------------

    def content_bytes(self) -> bytes:
        """The inline content as bytes (text encoded as UTF-8, JSON as its text)."""
        if self.data is None:
            raise MediaError(f"media {self.name or self.uri!r} is not inline; read its uri")
        if self.kind in BINARY_KINDS:
            return base64.b64decode(self.data)
        if self.kind == "text":
            return str(self.data).encode()
        return json.dumps(self.data).encode()

    def to_value(self) -> dict[str, Any]:
        """The JSON value that travels along edges."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def is_media(value: Any) -> bool:
    return isinstance(value, dict) and value.get("media") == MARKER


def parse_media(value: Any, *, where: str = "value") -> Media:
    """``value`` as ``Media``; ``MediaError`` saying what is wrong with it and where."""
    if isinstance(value, Media):
        return value
    if not is_media(value):
        raise MediaError(f'{where} is not a media value (a dict with "media": "v1")')
    try:
        return Media.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise MediaError(f"{where} is not valid media: {problems}") from None


def kind_of(mime_type: str) -> MediaKind:
    major = mime_type.split("/", 1)[0]
    if major in ("image", "audio", "video"):
        return major  # type: ignore[return-value]
    if mime_type == "application/json":
        return "json"
    if major == "text":
        return "text"
    return "file"


def guess_mime_type(name: str | None) -> str | None:
    if not name:
        return None
    return mimetypes.guess_type(name)[0]
