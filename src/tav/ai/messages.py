"""Messages as node code writes them (``tav.nodes.ai``) to LangChain messages.

Content is a string or a list of blocks: ``{"type": "text", "text": ...}``, MediaFormat
values (``tav.core.media``), or blocks already in a LangChain/OpenAI shape, which pass
through. Media become LangChain's standard content blocks (``image``, ``audio``,
``video``, ``file``), which every provider package translates to its own wire format.
"""

from __future__ import annotations

import json
from typing import Any

from tav.core.errors import NodeError
from tav.core.media import Media, MediaError, is_media, parse_media

ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "ai", "ai": "ai"}
ROLES["tool"] = "tool"


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
        f"{where}: the {media.kind} {name!r} is stored as a file ({media.uri}), and a "
        "model can only be shown media given inline (data) or by an http(s) URL",
        type="media_not_inline",
    )
