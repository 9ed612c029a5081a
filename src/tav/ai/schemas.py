"""Checking a model's structured answer against the JSON Schema it was asked to fit.

Uses the ``jsonschema`` package when it is installed; otherwise a small checker of the
keywords structured-output schemas use (types, properties, required,
additionalProperties, items, enum, const, anyOf/oneOf/allOf, $ref into $defs, and the
numeric, length and size bounds). The small checker is stricter than no check and never
rejects what ``jsonschema`` accepts for those keywords.
"""

from __future__ import annotations

import importlib
from typing import Any

TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def problem(value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` does not fit ``schema``, or ``None`` when it does."""
    try:
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError:
        return _check(value, schema, schema, "$")
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(value)
    )
    if error is None:
        return None
    where = "$" + "".join(f"[{p!r}]" for p in error.absolute_path)
    return f"{where}: {error.message}"


def _check(value: Any, schema: Any, root: dict[str, Any], where: str) -> str | None:
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return _check(value, _resolve(schema["$ref"], root), root, where)
    for check in (_type, _enum, _combined, _number, _string, _array, _object):
        found = check(value, schema, root, where)
        if found:
            return found
    return None


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        if part and part != "#":
            node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = TYPES.get(kind)
    return expected is None or isinstance(value, expected)


def _type(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    kinds = schema.get("type")
    if kinds is None:
        return None
    options = kinds if isinstance(kinds, list) else [kinds]
    if any(_is(value, kind) for kind in options):
        return None
    return f"{where}: expected {' or '.join(options)}, got {type(value).__name__}"


def _enum(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: {value!r} is not one of {schema['enum']!r}"
    if "const" in schema and value != schema["const"]:
        return f"{where}: expected {schema['const']!r}"
    return None


def _combined(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    for sub in schema.get("allOf", ()):
        if found := _check(value, sub, root, where):
            return found
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options and all(_check(value, sub, root, where) for sub in options):
            return f"{where}: fits none of the {key} alternatives"
    return None


def _number(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    if not _is(value, "number"):
        return None
    if "minimum" in schema and value < schema["minimum"]:
        return f"{where}: {value} is less than {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"{where}: {value} is more than {schema['maximum']}"
    return None


def _string(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    if not isinstance(value, str):
        return None
    if len(value) < schema.get("minLength", 0):
        return f"{where}: shorter than {schema['minLength']} characters"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{where}: longer than {schema['maxLength']} characters"
    return None


def _array(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    if not isinstance(value, list):
        return None
    if len(value) < schema.get("minItems", 0):
        return f"{where}: fewer than {schema['minItems']} items"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"{where}: more than {schema['maxItems']} items"
    for index, item in enumerate(value):
        if found := _check(item, schema.get("items"), root, f"{where}[{index}]"):
            return found
    return None


def _object(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    if not isinstance(value, dict):
        return None
    properties = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            return f"{where}: missing required property {name!r}"
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        sub = properties.get(name, extra)
        if sub is False:
            return f"{where}: unexpected property {name!r}"
        if found := _check(item, sub, root, f"{where}[{name!r}]"):
            return found
    return None
