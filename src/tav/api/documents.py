"""Workflow documents and other JSON values as the API takes and gives them.

Everything a client sends is checked to be plain JSON that every database stores the same
way before anything else looks at it: finite numbers, text keys, no NUL characters, a
bounded depth and size. The size is counted while walking, so a YAML "billion laughs"
document (aliases repeated into an exponentially large value) or one that contains itself
is refused after at most ``max_bytes`` of work.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request, Response

from tav.api.errors import ApiError
from tav.core import values
from tav.core.errors import Problem, WorkflowInvalid
from tav.engine.loader import decode_text, parse_document

MAX_DEPTH = values.MAX_INPUT_DEPTH
MAX_PROBLEMS = 50
# NUL: PostgreSQL text cannot hold it. A lone surrogate (YAML's "\ud800"): no UTF-8 for it.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
JSON_TYPES = frozenset({"application/json"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
MEDIA_TYPES = {"json": "application/json", "yaml": "application/yaml"}

JsonPath = tuple[str | int, ...]
JsonProblem = tuple[JsonPath, str]


class TooLarge(Exception):
    """A value larger than allowed (as JSON text, roughly)."""


def json_problems(value: Any, *, max_bytes: int) -> Iterator[JsonProblem]:
    """``(path, message)`` for every part of ``value`` that is not storable JSON.

    Raises ``TooLarge`` once the value would take more than ``max_bytes`` as JSON text.
    """
    size = 0
    stack: list[tuple[Any, JsonPath]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            yield path, f"nested deeper than {MAX_DEPTH} levels"
            continue
        size += _size(item)
        if size > max_bytes:
            raise TooLarge
        problem = _scalar_problem(item)
        if problem:
            yield path, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    yield path, f"key {key!r} is not text (quote it)"
                elif UNSTORABLE_TEXT.search(key):
                    yield path, "a key contains a NUL character or a lone surrogate"
                else:
                    stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))


def _size(item: Any) -> int:
    if isinstance(item, str):
        return len(item) + 3
    if isinstance(item, dict):
        return 2 + sum(len(key) + 4 for key in item if isinstance(key, str))
    return 8


def _scalar_problem(item: Any) -> str | None:
    if item is None or isinstance(item, bool | int | dict | list):
        return None
    if isinstance(item, str):
        unstorable = UNSTORABLE_TEXT.search(item)
        return "text contains a NUL character or a lone surrogate" if unstorable else None
    if isinstance(item, float):
        return None if math.isfinite(item) else f"{item} is not a JSON number"
    return f"a {type(item).__name__} is not a JSON value (quote it)"


def value_problems(value: Any, *, max_bytes: int, location: str) -> list[dict[str, str]]:
    """Problems of a JSON value in a request, as ``request_invalid`` details; 413 when
    it is larger than ``max_bytes``."""
    problems = _bounded(json_problems(value, max_bytes=max_bytes), max_bytes)
    return [
        {"location": ".".join([location, *(str(p) for p in path)]), "message": message}
        for path, message in problems
    ]


def storable_document(data: Any, *, max_bytes: int) -> dict[str, Any]:
    """``data`` if it is a workflow document of storable JSON; else ``WorkflowInvalid``
    (422) with every problem, or 413 when it is larger than ``max_bytes``. (Whether it can
    run is for the use case to check: ``tav.app.workflows.Workflows.check``.)"""
    if not isinstance(data, dict):
        kind = "nothing" if data is None else f"a {type(data).__name__}"
        raise WorkflowInvalid([Problem(f"a workflow document is an object, got {kind}")])
    problems = _bounded(json_problems(data, max_bytes=max_bytes), max_bytes)
    if problems:
        raise WorkflowInvalid([_located(data, path, message) for path, message in problems])
    return data


def _bounded(problems: Iterator[JsonProblem], max_bytes: int) -> list[JsonProblem]:
    found = []
    try:
        for problem in problems:
            found.append(problem)
            if len(found) == MAX_PROBLEMS:
                break
    except TooLarge:
        raise ApiError(
            413, "document_too_large", f"the document is larger than {max_bytes} bytes as JSON"
        ) from None
    return found


def _located(document: dict[str, Any], path: JsonPath, message: str) -> Problem:
    """A problem named like the validator's: by node id or edge index, then field."""
    node = edge = None
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
        found = document["nodes"][path[1]]
        node_id = found.get("id") if isinstance(found, dict) else None
        node = node_id if isinstance(node_id, str) else f"#{path[1]}"
        path = path[2:]
    elif len(path) >= 2 and path[0] == "edges" and isinstance(path[1], int):
        edge, path = path[1], path[2:]
    return Problem(message, node=node, edge=edge, field=".".join(map(str, path)) or None)


async def read_document(request: Request, *, max_bytes: int) -> Any:
    """The request body as data: JSON, or YAML under a YAML content type (default JSON).

    Syntax errors raise ``WorkflowInvalid``; other content types get 415.
    """
    content_type = request.headers.get("content-type") or "application/json"
    media = content_type.split(";")[0].strip().lower()
    if media not in JSON_TYPES | YAML_TYPES:
        accepted = ", ".join(sorted(JSON_TYPES | YAML_TYPES))
        raise ApiError(415, "unsupported_media_type", f"send the document as one of {accepted}")
    body = await request.body()
    if len(body) > max_bytes:
        raise ApiError(413, "document_too_large", f"the document is larger than {max_bytes} bytes")
    try:  # UTF-8, or UTF-16 or UTF-32 with a byte order mark
        text = decode_text(body)
    except ValueError as exc:
        raise WorkflowInvalid([Problem(f"the document is {exc}")]) from None
    if media in YAML_TYPES:
        # PyYAML is pure Python: a large document would hold up every other request.
        return await asyncio.to_thread(parse_document, text, source="document.yaml")
    return parse_document(text, source="document.json")


def download(document: dict[str, Any], name: str, format: str) -> Response:
    """The document as a file to save: ``<name>.json`` or ``<name>.yaml``."""
    if format == "yaml":
        import yaml  # on first use: most servers never export YAML

        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "workflow"
    disposition = f'attachment; filename="{slug}.{format}"'
    headers = {"Content-Disposition": disposition}
    return Response(text, media_type=MEDIA_TYPES[format], headers=headers)
