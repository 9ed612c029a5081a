"""Messages as node code writes them (``tav.nodes.ai``) to LangChain messages.

Content is a string or a list of blocks: ``{"type": "text", "text": ...}``, MediaFormat
values (``tav.core.media``), or blocks already in a LangChain/OpenAI shape, which pass
through. Media become LangChain's standard content blocks (``image``, ``audio``,
``video``, ``file``), which every provider package translates to its own wire format.

Media stored as files (``uri`` ``file:<id>``) are read first, through the host's ``Files``
service (``inline_stored_media``), up to ``MAX_MEDIA_BYTES`` each: a model is sent the
content, never a path of ours. Media given by an http(s) URL are fetched the same way when
the host gives a fetcher (``inline_remote_media``; the server's goes through its outbound
policy), else pass as URLs: some provider packages fetch a URL themselves, on this
machine and outside any policy (LangChain's Google package does).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from tav.core.errors import NodeError
from tav.core.media import Media, MediaError, is_media, parse_media

ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "ai", "ai": "ai"}
ROLES["tool"] = "tool"
MAX_MEDIA_BYTES = 20 * 1024 * 1024
"""The most a stored media value may hold to be sent to a model (providers refuse more)."""

Reader = Callable[[str], Awaitable[bytes]]
"""The content of a stored file by its uri (``Files.read``)."""


def to_langchain(messages: list[dict[str, Any]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    converted: list[Any] = []
    for index, message in enumerate(messages):
        role = ROLES.get(str(message.get("role", "")))
        if role is None:
            raise NodeError(
                f"message {index}: role {message.get('role')!r} is not one of "
                "system, user, assistant, tool",
                type="invalid_messages",
            )
        content = content_blocks(message.get("content", ""), where=f"message {index}")
        if role == "system":
            converted.append(SystemMessage(content=content))
        elif role == "user":
            converted.append(HumanMessage(content=content))
        elif role == "ai":
            calls = [_tool_call(call) for call in message.get("tool_calls") or ()]
            converted.append(AIMessage(content=content, tool_calls=calls))
        else:
            text = content if isinstance(content, str) else json.dumps(message.get("content"))
            call_id = str(message.get("tool_call_id") or "")
            converted.append(ToolMessage(content=text, tool_call_id=call_id))
    return converted


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments", call.get("args", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            arguments = {"input": arguments}
    return {"id": str(call.get("id") or ""), "name": call["name"], "args": arguments}


def content_blocks(content: Any, *, where: str = "content") -> str | list[Any]:
    """A message's content in LangChain's terms: a string, or standard content blocks."""
    if isinstance(content, str):
        return content
    if is_media(content) or isinstance(content, Media):
        return [media_block(content, where=where)]
    if isinstance(content, list):
        return [_block(item, f"{where}, block {i}") for i, item in enumerate(content)]
    if content is None:
        return ""
    return json.dumps(content, ensure_ascii=False, default=str)


def _block(item: Any, where: str) -> Any:
    if isinstance(item, str):
        return {"type": "text", "text": item}
    if is_media(item) or isinstance(item, Media):
        return media_block(item, where=where)
    if isinstance(item, dict) and "type" in item:
        return item
    return {"type": "text", "text": json.dumps(item, ensure_ascii=False, default=str)}


def media_block(value: Any, *, where: str = "media") -> dict[str, Any]:
    """One MediaFormat value as a LangChain standard content block."""
    try:
        media = parse_media(value, where=where)
    except MediaError as exc:
        raise NodeError(str(exc), type="invalid_media") from None
    if media.kind == "text":
        return {"type": "text", "text": _inline(media, where)}
    if media.kind == "json":
        _inline(media, where)
        return {"type": "text", "text": json.dumps(media.data, ensure_ascii=False)}
    if media.data is not None:
        return {"type": media.kind, "base64": media.data, "mime_type": media.mime_type}
    if media.uri and media.uri.startswith(("http://", "https://")):
        return {"type": media.kind, "url": media.uri, "mime_type": media.mime_type}
    raise _not_inline(media, where)


def _inline(media: Media, where: str) -> Any:
    if media.data is None:
        raise _not_inline(media, where)
    return media.data


def _not_inline(media: Media, where: str) -> NodeError:
    name = media.name or media.uri
    return NodeError(
        f"{where}: the {media.kind} {name!r} is stored as a file ({media.uri}), and this "
        "host reads no stored files: a model can only be shown media given inline (data) "
        "or by an http(s) URL",
        type="media_not_inline",
    )


# -- stored media -----------------------------------------------------------------------------


async def inline_stored_media(
    messages: list[dict[str, Any]], read: Reader, *, limit: int = MAX_MEDIA_BYTES
) -> list[dict[str, Any]]:
    """``messages`` with each media value stored as a file made inline, its content read
    through ``read``; ``NodeError`` ``media_too_large`` beyond ``limit`` bytes."""
    return await _inline_media(messages, _stored, read, limit)


async def inline_remote_media(
    messages: list[dict[str, Any]], fetch: Reader, *, limit: int = MAX_MEDIA_BYTES
) -> list[dict[str, Any]]:
    """``messages`` with each media value given by an http(s) URL made inline, its content
    fetched through ``fetch`` (which may refuse more than ``limit`` bytes itself)."""
    return await _inline_media(messages, _remote, fetch, limit)


async def _inline_media(
    messages: list[dict[str, Any]], wanted: Callable[[Any], bool], read: Reader, limit: int
) -> list[dict[str, Any]]:
    resolved = []
    for index, message in enumerate(messages):
        content = message.get("content")
        where = f"message {index}"
        if wanted(content):
            content = await _read_media(content, read, limit, where)
        elif isinstance(content, list) and any(wanted(item) for item in content):
            content = [
                await _read_media(item, read, limit, f"{where}, block {i}")
                if wanted(item)
                else item
                for i, item in enumerate(content)
            ]
        else:
            resolved.append(message)
            continue
        resolved.append({**message, "content": content})
    return resolved


def _stored(value: Any) -> bool:
    """A media value with a uri into our files (not an http(s) URL a provider can fetch)."""
    uri = _uri(value)
    return isinstance(uri, str) and not uri.startswith(("http://", "https://"))


def _remote(value: Any) -> bool:
    """A media value given by an http(s) URL (and no data)."""
    uri = _uri(value)
    return isinstance(uri, str) and uri.startswith(("http://", "https://")) and not _data_of(value)


def _uri(value: Any) -> Any:
    if isinstance(value, Media):
        value = value.to_value()
    return value.get("uri") if is_media(value) else None


def _data_of(value: Any) -> Any:
    return value.data if isinstance(value, Media) else value.get("data")


async def _read_media(value: Any, read: Reader, limit: int, where: str) -> dict[str, Any]:
    try:
        media = parse_media(value, where=where)
    except MediaError as exc:
        raise NodeError(str(exc), type="invalid_media") from None
    assert media.uri is not None  # _stored or _remote checked it
    if media.size is not None and media.size > limit:
        raise _too_large(media, media.size, limit, where)
    content = await read(media.uri)
    if len(content) > limit:
        raise _too_large(media, len(content), limit, where)
    return media.model_copy(update={"uri": None, "data": _data(media, content, where)}).to_value()


def _data(media: Media, content: bytes, where: str) -> Any:
    if media.kind not in ("text", "json"):
        return base64.b64encode(content).decode("ascii")
    try:
        text = content.decode("utf-8")
        return text if media.kind == "text" else json.loads(text)
    except ValueError:
        raise NodeError(
            f"{where}: the {media.kind} {media.name or media.uri!r} is not UTF-8 "
            f"{'text' if media.kind == 'text' else 'JSON'}",
            type="invalid_media",
        ) from None


def _too_large(media: Media, size: int, limit: int, where: str) -> NodeError:
    return NodeError(
        f"{where}: the {media.kind} {media.name or media.uri!r} is {size} bytes, more than "
        f"the {limit} a model can be sent",
        type="media_too_large",
    )
