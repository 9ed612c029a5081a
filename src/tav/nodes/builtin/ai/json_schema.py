"""A structural check of JSON Schemas written into workflows (``ai.structured``'s ``schema``).

It catches what a person typing a schema by hand gets wrong — a misspelt type, a
``properties`` that is a list, a ``required`` that is a string — when the workflow is
validated, with the path of the mistake, instead of as a provider's 400 in the middle of a
run. It is not a full meta-schema validation: unknown keywords pass (providers ignore or
reject them themselves), and so does anything it has no rule for.

Alternative rejected: validating against the draft 2020-12 meta-schema with a JSON Schema
library. Node code would need a runtime dependency for it, and the meta-schema accepts
exactly the mistakes above that matter (``"type": "strng"`` fails it, but
``"properties": []`` and unknown keywords pass it with a vaguer message).
"""

from __future__ import annotations

from typing import Any

TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_ONE_SCHEMA = (
    "items",
    "additionalProperties",
    "additionalItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_COUNTS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_STRINGS = ("title", "description", "$ref", "$id", "$schema", "pattern", "format")


def schema_problems(schema: Any, path: str = "schema") -> list[str]:
    """Every structural mistake in ``schema`` as ``"<path>: <problem>"``; empty when none."""
    if isinstance(schema, bool):
        return []
    if not isinstance(schema, dict):
        return [f"{path}: a schema must be an object, got {_kind(schema)}"]
    problems = _type_problems(schema, path)
    for key in _ONE_SCHEMA:
        if key in schema and not (key == "items" and isinstance(schema[key], list)):
            problems += schema_problems(schema[key], f"{path}.{key}")
    if isinstance(schema.get("items"), list):  # draft 4-7 tuple form
        problems += _schema_list(schema["items"], f"{path}.items", allow_empty=True)
    for key in _SCHEMA_MAPS:
        if key in schema:
            problems += _schema_map(schema[key], f"{path}.{key}")
    for key in _SCHEMA_LISTS:
        if key in schema:
            problems += _schema_list(schema[key], f"{path}.{key}", allow_empty=key == "prefixItems")
    return problems + _keyword_problems(schema, path)


def object_schema_problems(schema: Any, path: str = "schema") -> list[str]:
    """Like ``schema_problems``, and the schema must describe an object (``type: object``),
    which is what providers accept as a structured answer or a tool's arguments."""
    problems = schema_problems(schema, path)
    if not problems and schema.get("type") != "object":
        problems.append(f'{path}.type: must be "object" (the answer is an object)')
    return problems


def _type_problems(schema: dict[str, Any], path: str) -> list[str]:
    if "type" not in schema:
        return []
    kinds = schema["type"]
    listed = kinds if isinstance(kinds, list) else [kinds]
    if not listed or (isinstance(kinds, list) and len(set(map(str, kinds))) != len(kinds)):
        return [f"{path}.type: a list of types must be non-empty and without repeats"]
    unknown = [k for k in listed if not isinstance(k, str) or k not in TYPES]
    if unknown:
        known = ", ".join(sorted(TYPES))
        return [f"{path}.type: unknown type {unknown[0]!r} (one of {known})"]
    return []


def _schema_map(value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: must be an object of schemas by name, got {_kind(value)}"]
    problems: list[str] = []
    for name, sub in value.items():
        problems += schema_problems(sub, f"{path}.{name}")
    return problems


def _schema_list(value: Any, path: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or not (value or allow_empty):
        return [f"{path}: must be a non-empty list of schemas, got {_kind(value)}"]
    problems: list[str] = []
    for index, sub in enumerate(value):
        problems += schema_problems(sub, f"{path}[{index}]")
    return problems


def _keyword_problems(schema: dict[str, Any], path: str) -> list[str]:
    problems = []
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(name, str) for name in required)
    ):
        problems.append(f"{path}.required: must be a list of property names")
    enum = schema.get("enum")
    if enum is not None and not (isinstance(enum, list) and enum):
        problems.append(f"{path}.enum: must be a non-empty list of values")
    for key in _COUNTS:
        value = schema.get(key)
        if value is not None and (type(value) is not int or value < 0):
            problems.append(f"{path}.{key}: must be a whole number, 0 or more")
    for key in _NUMBERS:
        value = schema.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(f"{path}.{key}: must be a number")
    for key in _STRINGS:
        if key in schema and not isinstance(schema[key], str):
            problems.append(f"{path}.{key}: must be a string")
    return problems


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else type(value).__name__
