"""Long text params (``tav.nodes.params``): marked by ``format`` in a param's JSON Schema,
on the property or on its string branch, and only for strings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.params import CODE, MULTILINE, TEMPLATE, long_text_params


class Inner(BaseModel):
    text: str = Field(json_schema_extra=MULTILINE)


class Params(BaseModel):
    prompt: str | None = Field(None, json_schema_extra=MULTILINE)
    template: str = Field("", json_schema_extra=TEMPLATE)
    code: str = Field(json_schema_extra=CODE)
    title: str = ""
    count: int = Field(0, json_schema_extra=MULTILINE)  # a number: never text
    cron: str = Field("", json_schema_extra={"format": "cron"})
    inner: Inner | None = None


def test_marked_strings_are_long_text_whether_optional_or_not():
    assert long_text_params(Params.model_json_schema()) == {"prompt", "template", "code"}


def test_a_mark_on_the_string_branch_counts_too():
    schema: dict[str, Any] = {
        "properties": {
            "a": {"anyOf": [{"type": "string", "format": "code"}, {"type": "null"}]},
            "b": {"$ref": "#/$defs/Text"},
            "c": {"type": ["string", "null"], "format": "multiline"},
            "d": {"anyOf": [{"type": "integer"}, {"type": "null"}], "format": "multiline"},
        },
        "$defs": {"Text": {"type": "string", "format": "template"}},
    }
    assert long_text_params(schema) == {"a", "b", "c"}


def test_schemas_without_properties_have_none():
    assert long_text_params({}) == frozenset()
    assert long_text_params({"properties": "nonsense"}) == frozenset()
    assert long_text_params({"properties": {"x": {"$ref": "#/$defs/missing"}}}) == frozenset()


def test_the_built_in_prompts_and_message_bodies_are_long_text():
    found = {
        node.spec.type: long_text_params(node.Params.model_json_schema())
        for node in BUILTIN_NODE_TYPES
    }
    assert found["ai.llm_chat"] == {"prompt", "system"}
    assert found["ai.agent"] >= {"prompt", "system"}
    assert found["ai.classify"] >= {"prompt", "system", "instructions"}
    assert found["ai.rag_answer"] == {"question", "system"}
    assert found["email.send"] == {"text", "html"}
    assert found["slack.post_message"] == {"text"}
    assert found["core.http_request"] == {"body"}
    assert found["export.markdown"] == {"text"}
    assert "url" not in found["core.http_request"]
    assert found["trigger.schedule"] == frozenset()  # cron is a format, not a long text
