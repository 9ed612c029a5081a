"""JSON data as TAV stores it, and the one check a value passes before it is stored.

Node outputs, an execution's input and its output go into the database as JSON, many
executions to a transaction. A value that is not plain JSON data would break the
transaction that holds it, and with it everyone else's updates: a Python object a template
made (``namespace()``, ``cycler()``), text with a lone surrogate (what the JSON escape
``"\\ud800"`` decodes to: UTF-8 has no encoding for it), bytes, ``NaN``, a key that is not
text, or a value nested deeper than the serializer goes (about 250 levels, with what the
store wraps around it). So each value is checked where it is settled (a node's outputs in
``tav.engine.step``, a request body in the API) and only its own node or request fails,
told where.

Limits: what comes from outside (API bodies, webhook bodies, workflow documents) may nest
``MAX_INPUT_DEPTH`` levels; what nodes make, ``MAX_DEPTH``, so that a node can wrap what it
got (a webhook trigger puts the body under ``body``) and still be well within what storage
takes.

Hand-written rather than asking the serializer (``pydantic_core.to_json``): it turns
bytes, tuples, sets, datetimes and integer keys into JSON without a word, so what would be
stored differs from what the next node saw, and when it refuses it cannot say where. The
walk checks exact types first and builds the path only on the way back from a problem, so
a value that is fine costs some 50 ns per item; ``Checked`` remembers the values it has
passed, so that one passed on unchanged (by an If, a Merge, a Delay) is not walked again.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_INPUT_DEPTH = 64
"""How deep a value from outside (a request or webhook body, a document) may nest."""
MAX_DEPTH = 2 * MAX_INPUT_DEPTH
"""How deep a value a node makes may nest."""
SURROGATE = re.compile("[\ud800-\udfff]")
"""A code point UTF-8 cannot encode: a surrogate on its own in a Python string."""
SHOWN_STEPS = 10
"""Steps of a path shown in a message."""

Path = list[str | int]
Found = tuple[Path, str]
"""A problem: the path to it, innermost step first, and what it is."""
Known = dict[int, tuple[Any, int]]
"""Containers found storable, by ``id``: the container (kept, so that the id stays its
own) and its height."""
_PLAIN = frozenset({int, bool, type(None)})


def problem(value: Any, *, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """``(where, what)`` for the first part of ``value`` that is not storable JSON data,
    or ``None``. ``where`` is a dotted path (``body.items.3``; ``""`` for ``value``
    itself)."""
    found = _walk(value, 0, max_depth, None)
    return None if isinstance(found, int) else _shown_problem(found)


class Checked:
    """Checks the outputs of one execution's nodes, remembering each output it passed.

    A node that passes on what it got (an If, a Merge, a Delay) returns the very values
    checked before: those are not walked again, only placed (their height is kept, for the
    depth). A node that changes a value it got in place, rather than returning a new
    one, is not caught here; the store's own check still is (see ``tav.storage.writer``)."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: Known = {}

    def problem(self, outputs: dict[str, Any]) -> tuple[str, str] | None:
        """As ``problem``, for a node's ``{port: value}`` (ports are text); the values
        are remembered."""
        known = self._known
        for port, value in outputs.items():
            kind = type(value)
            if kind is dict or kind is list:
                found = _container(value, kind, 1, MAX_DEPTH, known)
                if isinstance(found, int):
                    known[id(value)] = (value, found)
                    continue
            else:
                found = _walk(value, 1, MAX_DEPTH, known)
                if isinstance(found, int):
                    continue
            found[0].append(port)
            return _shown_problem(found)
        return None


def storable_text(text: str) -> str:
    """``text`` with each surrogate code point replaced by U+FFFD, so that it can be
    stored (an error message that quotes a value, say)."""
    if text.isascii():
        return text
    return SURROGATE.sub("\ufffd", text)


# The walk: each function returns the height of a storable value (0 for a scalar or an
# empty container, 1 + its tallest item's for another) or the problem found in it. A value
# at depth d is storable only if d + its height <= the limit.


def _walk(value: Any, depth: int, limit: int, known: Known | None) -> int | Found:
    kind = type(value)
    if kind is dict:
        return _dict(value, depth, limit, known)
    if kind is list:
        return _list(value, depth, limit, known)
    if kind is str:
        return _text(value)
    if kind in _PLAIN:
        return 0
    return _other(value, depth, limit, known)


def _dict(value: dict[Any, Any], depth: int, limit: int, known: Known | None) -> int | Found:
    if not value:
        return 0
    if depth >= limit:
        return [], f"nested deeper than {limit} levels"
    height = 0
    for key, item in value.items():
        if type(key) is not str:
            found = _key(key)
            if found is not None:
                return found
        elif not key.isascii() and SURROGATE.search(key):
            return [], f"the key {_shown(key)} contains a lone surrogate"
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is str:
            if item.isascii() or not SURROGATE.search(item):
                continue
            result: int | Found = _text(item)
        elif kind is float and item - item == 0:  # finite (inf - inf and nan - nan: nan)
            continue
        elif kind is dict or kind is list:
            result = _container(item, kind, depth + 1, limit, known)
        else:
            result = _other(item, depth + 1, limit, known)
        if not isinstance(result, int):
            result[0].append(key)
            return result
        if result >= height:
            height = result + 1
    return height or 1


def _list(value: list[Any], depth: int, limit: int, known: Known | None) -> int | Found:
    # The loop of ``_dict`` again, for lists: one loop over ``enumerate`` or ``items()``
    # taking a callable per item measured about twice as slow on every node output.
    if not value:
        return 0
    if depth >= limit:
        return [], f"nested deeper than {limit} levels"
    height = 0
    for index, item in enumerate(value):
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is str:
            if item.isascii() or not SURROGATE.search(item):
                continue
            result: int | Found = _text(item)
        elif kind is float and item - item == 0:
            continue
        elif kind is dict or kind is list:
            result = _container(item, kind, depth + 1, limit, known)
        else:
            result = _other(item, depth + 1, limit, known)
        if not isinstance(result, int):
            result[0].append(index)
            return result
        if result >= height:
            height = result + 1
    return height or 1


def _container(item: Any, kind: type, depth: int, limit: int, known: Known | None) -> int | Found:
    """A dict or list inside another: as remembered, if it was checked before and still
    fits at this depth."""
    if known is not None:
        seen = known.get(id(item))
        if seen is not None and depth + seen[1] <= limit:
            return int(seen[1])
    if kind is dict:
        return _dict(item, depth, limit, known)
    return _list(item, depth, limit, known)


def _text(text: str) -> int | Found:
    if text.isascii():
        return 0
    surrogate = SURROGATE.search(text)
    if surrogate is None:
        return 0
    code = f"U+{ord(surrogate.group()):04X}"
    return [], f"text contains a lone surrogate ({code}), which cannot be stored as UTF-8"


def _key(key: Any) -> Found | None:
    if isinstance(key, str):  # a str subclass (Markup, a str enum): stored as its text
        found = _text(str(key))
        return None if isinstance(found, int) else found
    return [], f"the key {_shown(key)} is of type {type(key).__name__}, not text"


def _other(value: Any, depth: int, limit: int, known: Known | None) -> int | Found:
    """Floats, and subclasses of the JSON types (stored as their base type)."""
    if isinstance(value, float):
        return 0 if math.isfinite(value) else ([], f"{value} is not a JSON number")
    if isinstance(value, str):
        return _text(str(value))
    if isinstance(value, int):  # bool and int enums included
        return 0
    if isinstance(value, dict):
        return _dict(value, depth, limit, known)
    if isinstance(value, list | tuple):  # a tuple is stored as the array it reads as
        return _list(list(value), depth, limit, known)
    return [], f"a value of type {type(value).__name__} is not JSON data"


def _shown_problem(found: Found) -> tuple[str, str]:
    path, message = found
    return _where(path[::-1]), message


def _where(path: Path) -> str:
    """A dotted path, its middle left out when it is long (a value nested 100 deep)."""
    steps = [
        _shown(step) if isinstance(step, str) and len(step) > 40 else str(step) for step in path
    ]
    if len(steps) > SHOWN_STEPS:
        left = len(steps) - SHOWN_STEPS
        steps = [*steps[: SHOWN_STEPS - 2], f"<{left} more>", *steps[-2:]]
    return storable_text(".".join(steps))


def _shown(key: Any) -> str:
    text = repr(key)
    return storable_text(text if len(text) <= 40 else text[:37] + "...")
