"""Documents as the retrieval nodes take them: texts with metadata, read from whatever
arrives — a string, a MediaFormat text, a ``{text, metadata}`` object (a chunk of
``ai.text_split``, or a LangChain-style ``{page_content, metadata}``), or a list of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tav.core.errors import NodeError
from tav.core.media import BINARY_KINDS, MediaError, is_media, parse_media

TEXT_KEYS = ("text", "page_content", "content")


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    vector: list[float] | None = None

    def value(self) -> dict[str, Any]:
        """The document as it travels along edges: ``{text, metadata}`` (and ``id``)."""
        value: dict[str, Any] = {"text": self.text, "metadata": self.metadata}
        if self.id is not None:
            value["id"] = self.id
        return value


def read_documents(value: Any, *, what: str = "the input") -> list[Document]:
    """Every document in ``value`` (none for an empty list); ``NodeError``
    (``invalid_input``) naming what is not one."""
    if value is None or value == "":
        raise NodeError(f"{what} has no text", type="invalid_input")
    if not isinstance(value, list):
        return [_document(value, what)]
    return [_document(item, f"{what}[{index}]") for index, item in enumerate(value)]


def _document(item: Any, where: str) -> Document:
    if isinstance(item, str):
        return Document(item)
    if is_media(item):
        return _media_document(item, where)
    if isinstance(item, dict):
        key = next((k for k in TEXT_KEYS if isinstance(item.get(k), str)), None)
        if key is not None:
            return _dict_document(item, key, where)
    shown = json.dumps(item, default=str)[:80]
    raise NodeError(
        f"{where} is not a document: give text, a text media value or an object with "
        f"`text` (and `metadata`), got {shown}",
        type="invalid_input",
    )


def _dict_document(item: dict[str, Any], key: str, where: str) -> Document:
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise NodeError(f"{where}.metadata is not an object", type="invalid_input")
    record_id = item.get("id")
    vector = item.get("vector")
    return Document(
        item[key],
        dict(metadata),
        str(record_id) if record_id is not None else None,
        [float(x) for x in vector] if isinstance(vector, list) else None,
    )


def _media_document(item: Any, where: str) -> Document:
    try:
        media = parse_media(item, where=where)
    except MediaError as exc:
        raise NodeError(str(exc), type="invalid_input") from None
    if media.kind in BINARY_KINDS:
        raise NodeError(
            f"{where} is a {media.kind} ({media.mime_type}), not text", type="invalid_input"
        )
    if media.data is None:
        raise NodeError(
            f"{where} is stored as a file ({media.uri}); read it into text first",
            type="invalid_input",
        )
    text = media.data if media.kind == "text" else json.dumps(media.data, ensure_ascii=False)
    metadata = dict(media.metadata)
    if media.name and "source" not in metadata:
        metadata["source"] = media.name
    return Document(text, metadata)


def stable_id(text: str, metadata: dict[str, Any]) -> str:
    """An id that stays the same when the same chunk is stored again: from its source and
    chunk number when it has both (a new version of the source replaces its chunks), else
    from its text."""
    source, chunk = metadata.get("source"), metadata.get("chunk")
    key = f"{source}\x00{chunk}" if source is not None and chunk is not None else text
    return hashlib.sha256(key.encode()).hexdigest()[:32]
