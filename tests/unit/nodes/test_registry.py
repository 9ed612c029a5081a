"""NodeRegistry: registration, lookup with suggestions, and the catalog the editor reads."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pydantic import BaseModel

from tav.core.errors import NotFound
from tav.nodes import Node, NodeContext, NodeSpec, Outputs, Port
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry

BUILTIN_TYPE_IDS = {
    "trigger.manual",
    "trigger.webhook",
    "trigger.schedule",
    "trigger.mqtt",
    "trigger.email",
    "core.set",
    "core.if",
    "core.switch",
    "core.merge",
    "core.delay",
    "core.noop",
    "core.fail",
    "core.http_request",
    "core.output",
    "core.subworkflow",
    "core.map",
    "ai.llm_chat",
    "ai.structured",
    "ai.classify",
    "ai.agent",
    "ai.text_split",
    "ai.embed",
    "ai.vector_upsert",
    "ai.vector_search",
    "ai.rag_answer",
    "file.read",
    "file.write",
    "export.csv",
    "export.xlsx",
    "export.json",
    "export.markdown",
    "export.html",
    "export.pdf",
    "email.send",
    "slack.post_message",
    "discord.send_message",
    "telegram.send_message",
    "mqtt.publish",
    "webhook.send",
}
CATALOG_KEYS = {
    "type",
    "version",
    "title",
    "category",
    "description",
    "icon",
    "pool",
    "inputs",
    "outputs",
    "dynamic_outputs",
    "params_schema",
    "source",
}


class GreetParams(BaseModel):
    name: str
    loud: bool = False


class Greet(Node):
    """Says hello."""

    spec = NodeSpec(type="demo.greet", version=2, category="demo", icon="smile")
    Params = GreetParams
    outputs = {"output": Port("The greeting.")}
    migrations = {1: lambda params: {"name": params.get("who", "world")}}

    async def run(self, params: GreetParams, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": f"hello {params.name}"}


class OtherGreet(Node):
    spec = NodeSpec(type="demo.greet")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        return {}


@pytest.fixture
def builtins() -> NodeRegistry:
    return NodeRegistry(BUILTIN_NODE_TYPES)


def test_the_built_in_types_are_exactly_the_documented_ones(builtins):
    assert {t.spec.type for t in builtins} == BUILTIN_TYPE_IDS
    assert len(builtins) == len(BUILTIN_TYPE_IDS)


@pytest.mark.parametrize("type_id", sorted(BUILTIN_TYPE_IDS))
def test_every_built_in_type_describes_itself_fully(builtins, type_id):
    info = builtins.describe(type_id)

    assert set(info) == CATALOG_KEYS
    assert info["type"] == type_id
    assert info["version"] >= 1
    assert info["title"]
    assert info["category"]
    assert info["description"]
    assert info["icon"]
    json.dumps(info)


@pytest.mark.parametrize("type_id", sorted(BUILTIN_TYPE_IDS))
def test_params_schema_is_a_json_schema_of_an_object(builtins, type_id):
    schema = builtins.describe(type_id)["params_schema"]

    assert schema["type"] == "object"
    assert isinstance(schema.get("properties", {}), dict)
    assert set(schema.get("required", [])) <= set(schema.get("properties", {}))


def test_describe_shows_identity_ports_and_params():
    info = NodeRegistry([Greet]).describe("demo.greet")

    assert info["type"] == "demo.greet"
    assert info["version"] == 2
    assert info["title"] == "Greet"
    assert (info["category"], info["icon"]) == ("demo", "smile")
    assert info["description"] == "Says hello."
    assert info["inputs"] == {"input": {"description": "", "required": True, "many": False}}
    assert info["outputs"] == {"output": {"description": "The greeting."}}
    assert info["params_schema"]["required"] == ["name"]
    assert info["params_schema"]["properties"]["loud"]["default"] is False
    assert info["source"].endswith("test_registry.Greet")


def test_describe_uses_the_names_written_in_workflows(builtins):
    http = builtins.describe("core.http_request")

    assert "json" in http["params_schema"]["properties"]
    assert "json_body" not in http["params_schema"]["properties"]
    assert http["pool"] == "http"
    assert set(http["outputs"]["output"]["schema"]["properties"]) == {"status", "headers", "body"}


def test_describe_marks_params_dependent_outputs_and_optional_inputs(builtins):
    assert builtins.describe("core.switch")["dynamic_outputs"] is True
    assert builtins.describe("core.if")["dynamic_outputs"] is False
    assert set(builtins.describe("core.if")["outputs"]) == {"true", "false"}
    assert builtins.describe("core.merge")["inputs"]["input"] == {
        "description": "Any number of edges; none is required.",
        "required": False,
        "many": True,
    }
    assert builtins.describe("trigger.manual")["inputs"] == {}
    assert builtins.describe("core.fail")["outputs"] == {}


def test_the_catalog_lists_every_type_by_category_then_type(builtins):
    catalog = builtins.catalog()

    keys = [(entry["category"], entry["type"]) for entry in catalog]
    assert keys == sorted(keys)
    assert {entry["type"] for entry in catalog} == BUILTIN_TYPE_IDS


def test_a_second_class_with_the_same_type_id_is_rejected():
    registry = NodeRegistry([Greet])

    with pytest.raises(ValueError, match=r"'demo\.greet' is defined twice") as caught:
        registry.register(OtherGreet)

    assert "test_registry.Greet" in str(caught.value)
    assert "test_registry.OtherGreet" in str(caught.value)
    assert registry.get("demo.greet") is Greet


def test_duplicates_are_rejected_when_building_from_a_list_too():
    with pytest.raises(ValueError, match="defined twice"):
        NodeRegistry([Greet, OtherGreet])


def test_registering_the_same_class_twice_is_harmless():
    registry = NodeRegistry([Greet])
    registry.register(Greet)

    assert len(registry) == 1


def test_only_node_classes_can_be_registered():
    with pytest.raises(TypeError, match="not a Node subclass"):
        NodeRegistry().register(GreetParams)  # type: ignore[arg-type]


def test_an_unknown_type_is_not_found_with_suggestions(builtins):
    with pytest.raises(NotFound, match=r"unknown node type 'core\.nop'") as caught:
        builtins.get("core.nop")

    assert "did you mean 'core.noop'" in str(caught.value)
    assert "core.http_requests" not in builtins


def test_an_unknown_type_far_from_any_gets_no_suggestion(builtins):
    with pytest.raises(NotFound) as caught:
        builtins.describe("zzz.qqq")

    assert "did you mean" not in str(caught.value)


def test_registries_do_not_share_state(builtins):
    NodeRegistry([Greet])

    assert "demo.greet" not in builtins
    assert "demo.greet" not in NodeRegistry(BUILTIN_NODE_TYPES)


# -- built-ins registered by import path -------------------------------------------------


def test_every_built_in_path_names_the_class_of_its_type_id():
    from tav.nodes.builtin import BUILTIN_NODES

    assert {t.spec.type: f"{t.__module__}:{t.__qualname__}" for t in BUILTIN_NODE_TYPES} == (
        BUILTIN_NODES
    )


def test_a_lazy_type_is_imported_when_first_asked_for(tmp_path, monkeypatch):
    (tmp_path / "lazy_plugin_mod.py").write_text(
        "from tav.nodes import Node, NodeSpec\n"
        "class Late(Node):\n"
        "    spec = NodeSpec(type='demo.late')\n"
        "    async def run(self, params, input, ctx):\n"
        "        return {'output': input}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = NodeRegistry(lazy={"demo.late": "lazy_plugin_mod:Late"})
    assert "demo.late" in registry
    assert len(registry) == 1
    assert "lazy_plugin_mod" not in sys.modules
    assert registry.get("demo.late").__name__ == "Late"
    assert "lazy_plugin_mod" in sys.modules
    with pytest.raises(NotFound, match=r"did you mean 'demo\.late'"):
        registry.get("demo.lat")


def test_a_lazy_path_naming_another_type_is_an_error():
    registry = NodeRegistry(lazy={"core.if": "tav.nodes.builtin.core.flow:Noop"})
    with pytest.raises(ValueError, match=r"is node type 'core\.noop', not 'core\.if'"):
        registry.get("core.if")


def test_a_plugin_cannot_take_a_lazy_built_in_type_id():
    from tav.nodes.builtin import BUILTIN_NODES

    class Impostor(Node):
        spec = NodeSpec(type="core.noop")

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {"output": input}

    registry = NodeRegistry(lazy=BUILTIN_NODES)
    with pytest.raises(ValueError, match="defined twice"):
        registry.register(Impostor)
