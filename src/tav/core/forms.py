"""The forms an approval shows: a small, flat subset of JSON Schema, and checking answers.

A workflow author describes the fields a person fills in when deciding (``core.wait``'s
``fields``) as a JSON Schema object whose properties are strings, numbers, integers or
booleans, each with an optional ``title``, ``description``, ``default``, ``enum``
(shown as a choice), bounds (``minimum``, ``maximum``, ``minLength``, ``maxLength``) and
``format`` (``email``, ``date``, ``uri``, ``textarea``); ``required`` lists the fields
that must be filled in. That is what a form can show without a form designer, and every
answer is checked against it the same way whether it comes from the form page (text,
converted by ``from_form``) or the API (JSON, taken as typed).

Rejected: the whole of JSON Schema (nested objects, arrays, ``oneOf``: a form cannot show
them plainly, and a schema the form cannot show would accept answers nobody can give);
a validation library (a dependency for five keywords, and its messages name JSON pointers
rather than the field a person filled in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

FIELD_TYPES = frozenset({"string", "number", "integer", "boolean"})
FORMATS = frozenset({"email", "date", "uri", "textarea"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
MAX_FIELDS = 50
MAX_TEXT = 10_000
"""Longest text a field takes when its schema gives no ``maxLength``."""
_KEYWORDS = frozenset(
    {
        "type",
        "title",
        "description",
        "default",
        "enum",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "format",
    }
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def schema_problems(schema: Any) -> list[str]:
    """Every reason ``schema`` is not a form this module can show, as text naming where."""
    if not isinstance(schema, dict):
        return ["fields: must be a JSON Schema object"]
    problems = []
    if schema.get("type", "object") != "object":
        problems.append("fields.type: must be 'object'")
    unknown = set(schema) - {"type", "title", "description", "properties", "required"}
    problems += [f"fields.{key}: not supported in a form" for key in sorted(unknown)]
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return [*problems, "fields.properties: must be an object"]
    if len(properties) > MAX_FIELDS:
        problems.append(f"fields.properties: at most {MAX_FIELDS} fields")
    for name, field in properties.items():
        problems += _field_problems(name, field)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.append("fields.required: must be a list of field names")
    else:
        problems += [
            f"fields.required: no field {name!r}" for name in required if name not in properties
        ]
    return problems


def _field_problems(name: str, field: Any) -> list[str]:
    where = f"fields.properties.{name}"
    if not FIELD_NAME.match(name):
        return [f"{where}: a field name is letters, digits, '_' or '-'"]
    if not isinstance(field, dict):
        return [f"{where}: must be an object"]
    problems = [f"{where}.{key}: not supported in a form" for key in sorted(set(field) - _KEYWORDS)]
    kind = field.get("type")
    if kind not in FIELD_TYPES:
        return [*problems, f"{where}.type: one of {', '.join(sorted(FIELD_TYPES))}"]
    if "format" in field and (kind != "string" or field["format"] not in FORMATS):
        problems.append(f"{where}.format: one of {', '.join(sorted(FORMATS))}, on a string")
    enum = field.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        problems.append(f"{where}.enum: must be a list of choices")
    elif enum is not None:
        problems += [f"{where}.enum: {p}" for p in _value_problems(field, enum, choices=False)]
    for key in ("minimum", "maximum"):
        if key in field and not _number(field[key]):
            problems.append(f"{where}.{key}: must be a number")
    for key in ("minLength", "maxLength"):
        if key in field and not (isinstance(field[key], int) and field[key] >= 0):
            problems.append(f"{where}.{key}: must be a count")
    if "default" in field:
        problems += [f"{where}.default: {p}" for p in _value_problems(field, [field["default"]])]
    return problems


def _value_problems(field: dict[str, Any], values: list[Any], *, choices: bool = True) -> list[str]:
    spec = field if choices else {k: v for k, v in field.items() if k != "enum"}
    return [problem for value in values if (problem := value_problem(spec, value)) is not None]


def defaults(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields' ``default`` values."""
    properties = (schema or {}).get("properties", {})
    return {name: field["default"] for name, field in properties.items() if "default" in field}


def check(
    schema: Mapping[str, Any] | None, data: Any
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """``data`` as the form's answer, and every problem with it as ``{field, message}``
    (none: the answer is good). Fields left out take their default; fields the schema
    does not have are refused."""
    if not isinstance(data, dict):
        return {}, [{"field": "data", "message": "must be an object of field values"}]
    properties: Mapping[str, Any] = (schema or {}).get("properties", {})
    required = set((schema or {}).get("required", []))
    answer, problems = {}, []
    for name in data:
        if name not in properties:
            problems.append({"field": name, "message": "no such field"})
    for name, field in properties.items():
        value = data.get(name, field.get("default"))
        if value is None or value == "":
            if name in required:
                problems.append({"field": name, "message": "is required"})
            continue
        problem = value_problem(field, value)
        if problem is not None:
            problems.append({"field": name, "message": problem})
        else:
            answer[name] = value
    return answer, problems


def value_problem(field: Mapping[str, Any], value: Any) -> str | None:
    """Why ``value`` does not fit the field, or ``None``."""
    kind = field.get("type")
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "integer" and not (_number(value) and float(value).is_integer()):
        return "must be a whole number"
    if kind == "number" and not _number(value):
        return "must be a number"
    if kind == "string" and not isinstance(value, str):
        return "must be text"
    if "enum" in field and value not in field["enum"]:
        return "must be one of " + ", ".join(repr(choice) for choice in field["enum"])
    if kind == "string":
        return _text_problem(field, value)
    if "minimum" in field and value < field["minimum"]:
        return f"must be at least {field['minimum']}"
    if "maximum" in field and value > field["maximum"]:
        return f"must be at most {field['maximum']}"
    return None


def _text_problem(field: Mapping[str, Any], value: str) -> str | None:
    if len(value) < field.get("minLength", 0):
        return f"must be at least {field['minLength']} characters long"
    if len(value) > field.get("maxLength", MAX_TEXT):
        return f"must be at most {field.get('maxLength', MAX_TEXT)} characters long"
    kind = field.get("format")
    if kind == "email" and not _EMAIL.match(value):
        return "must be an email address"
    if kind == "uri" and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:\S+$", value):
        return "must be a URL"
    if kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "must be a date (YYYY-MM-DD)"
    return None


def from_form(schema: Mapping[str, Any] | None, form: Mapping[str, str]) -> dict[str, Any]:
    """The answer a form page posted (every value text) with each field as its type: a
    checkbox is present or not, a number is parsed (text that is no number is kept as
    text, for ``check`` to refuse with the field named)."""
    properties: Mapping[str, Any] = (schema or {}).get("properties", {})
    data: dict[str, Any] = {}
    for name, field in properties.items():
        kind = field.get("type")
        if kind == "boolean":
            data[name] = name in form
            continue
        text = form.get(name, "")
        if kind == "string" or text.strip() == "":
            data[name] = text if kind == "string" else None
            continue
        data[name] = _parsed_number(text.strip(), integer=kind == "integer")
    return data


def _parsed_number(text: str, *, integer: bool) -> Any:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        return text


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
