"""Long text params: prompts, message bodies, templates, code.

A node type marks such a param in its JSON Schema with ``format``: ``multiline`` (prose:
a prompt, a message), ``template`` (a text that is mostly template) or ``code``. The
editor's form can give it a text area, and a workflow's live draft (``tav.collab``) keeps
it as a Y.Text, so that two people typing in the same prompt merge character by character
rather than one replacing the other's text::

    class Params(Model):
        prompt: str | None = Field(None, description="The prompt.", json_schema_extra=MULTILINE)

``long_text_params`` reads the marks back from a ``Params`` model's JSON Schema (the
catalog's ``params_schema``): the mark may sit on the property itself or on its string
branch of an ``anyOf`` (``str | None``), and must name a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LONG_TEXT_FORMATS = frozenset({"multiline", "template", "code"})
"""The ``format`` values that make a string param a long text."""
MULTILINE: dict[str, Any] = {"format": "multiline"}
TEMPLATE: dict[str, Any] = {"format": "template"}
CODE: dict[str, Any] = {"format": "code"}


def long_text_params(schema: Mapping[str, Any]) -> frozenset[str]:
    """The names (as documents write them) of the long text params of a ``Params`` JSON
    Schema."""
    properties = _resolve(schema, schema).get("properties", {})
    if not isinstance(properties, Mapping):
        return frozenset()
    return frozenset(
        name for name, prop in properties.items() if _long_text(_resolve(prop, schema), schema)
    )


def _long_text(prop: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    options = [_resolve(option, root) for option in _options(prop)]
    marked = prop.get("format") in LONG_TEXT_FORMATS
    if marked and (_string(prop) or any(_string(option) for option in options)):
        return True
    return any(_string(o) and o.get("format") in LONG_TEXT_FORMATS for o in options)


def _options(prop: Mapping[str, Any]) -> list[Any]:
    found = []
    for union in ("anyOf", "oneOf"):
        value = prop.get(union)
        if isinstance(value, list):
            found.extend(value)
    return found


def _string(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema``, or what its local ``$ref`` (``#/$defs/...``) points at."""
    if not isinstance(schema, Mapping):
        return {}
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, Mapping) else None
    return target if isinstance(target, Mapping) else {}
