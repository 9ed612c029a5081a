"""Checking a tool call's arguments against the workflow's input schema, and the input
schema itself, as saving a workflow does."""

from __future__ import annotations

import re

import pytest

from tav.app.tools import ArgumentsInvalid, check_arguments, check_input_schema
from tav.core.errors import WorkflowInvalid

SCHEMA = {
    "type": "object",
    "properties": {
        "to": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
        },
        "items": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["to"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("arguments", "field", "says"),
    [
        ({}, "to", "argument 'to': is required"),
        ({"to": {}}, "to.city", "argument 'to.city': is required"),
        ({"to": {"city": 7}}, "to.city", "argument 'to.city': 7 is not of type 'string'"),
        ({"to": {"city": "Oslo"}, "items": [1, "x"]}, "items.1", "'x' is not of type"),
        ({"to": {"city": "Oslo"}, "extra": 1}, "", "the arguments: Additional properties"),
    ],
)
def test_the_first_wrong_argument_is_named_by_its_path(
    arguments: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(ArgumentsInvalid, match=re.escape(says)) as refused:
        check_arguments(SCHEMA, arguments)
    assert refused.value.field == field


def test_arguments_the_schema_accepts_pass() -> None:
    check_arguments(SCHEMA, {"to": {"city": "Oslo"}, "items": [1, 2]})
    check_arguments({"type": "object"}, {"anything": ["at", "all"]})


def test_an_input_schema_must_be_a_json_schema_of_an_object() -> None:
    check_input_schema({"input_schema": SCHEMA})
    check_input_schema({})
    with pytest.raises(WorkflowInvalid, match=re.escape("input_schema.properties.to.type")):
        check_input_schema(
            {"input_schema": {"type": "object", "properties": {"to": {"type": "strng"}}}}
        )
    with pytest.raises(WorkflowInvalid, match=re.escape("input_schema.type")):
        check_input_schema({"input_schema": {"type": "array"}})
