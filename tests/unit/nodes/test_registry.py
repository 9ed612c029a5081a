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
from tav.nodes.modules import NodeModule
from tav.nodes.registry import NodeRegistry, NodeTypeUnavailable

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
    "core.wait",
    "core.noop",
    "core.fail",
    "core.http_request",
    "core.output",
    "core.subworkflow",
    "core.map",
    "code.python",
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
    "mcp.call_tool",
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
    "available",
    "error",
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


# -- module records: built-ins and plugin packages, imported on first use --------------


def test_every_built_in_record_names_exactly_the_classes_its_module_defines():
    import importlib

    from tav.nodes.builtin import BUILTIN_MODULES
    from tav.nodes.modules import node_types_in

    for record in BUILTIN_MODULES:
        defined = {t.spec.type for t in node_types_in(importlib.import_module(record.module))}
        assert set(record.types) == defined, record.module
    named = [type_id for record in BUILTIN_MODULES for type_id in record.types]
    assert len(named) == len(set(named)), "a type id named by two records"
    assert set(named) == {t.spec.type for t in BUILTIN_NODE_TYPES}


def test_a_record_names_each_type_once():
    with pytest.raises(ValueError, match=r"names \['demo\.a'\] more than once"):
        NodeModule("demo_mod", ("demo.a", "demo.a"))
    with pytest.raises(ValueError, match="needs a tuple of type ids"):
        NodeModule("demo_mod", "demo.a")  # type: ignore[arg-type]


def test_a_recorded_type_is_imported_when_first_asked_for(tmp_path, monkeypatch):
    (tmp_path / "lazy_plugin_mod.py").write_text(
        "from tav.nodes import Node, NodeSpec\n"
        "class Late(Node):\n"
        "    spec = NodeSpec(type='demo.late')\n"
        "    async def run(self, params, input, ctx):\n"
        "        return {'output': input}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = NodeRegistry(modules=[NodeModule("lazy_plugin_mod", ("demo.late",))])
    assert "demo.late" in registry
    assert len(registry) == 1
    assert "lazy_plugin_mod" not in sys.modules
    assert registry.get("demo.late").__name__ == "Late"
    assert "lazy_plugin_mod" in sys.modules
    with pytest.raises(NotFound, match=r"did you mean 'demo\.late'"):
        registry.get("demo.lat")
    sys.modules.pop("lazy_plugin_mod")


def test_a_record_whose_module_fails_to_import_makes_its_types_unavailable():
    registry = NodeRegistry(
        BUILTIN_NODE_TYPES, modules=[NodeModule("tav_no_such_module", ("core.foo", "core.bar"))]
    )

    with pytest.raises(NodeTypeUnavailable) as caught:
        registry.get("core.foo")

    assert str(caught.value) == (
        "type 'core.foo' could not be loaded: "
        "ModuleNotFoundError: No module named 'tav_no_such_module'"
    )
    assert "core.foo" in registry
    assert [u.type for u in registry.unavailable()] == ["core.bar", "core.foo"]
    assert registry.get("core.noop").spec.type == "core.noop"


def test_a_record_naming_a_class_its_module_lacks_makes_that_type_unavailable():
    registry = NodeRegistry(
        modules=[NodeModule("tav.nodes.builtin.core.flow", ("core.if", "core.iff"))]
    )

    assert registry.get("core.if").__name__ == "If"
    with pytest.raises(NodeTypeUnavailable, match=r"defines no node type 'core\.iff'"):
        registry.get("core.iff")
    assert {e["type"] for e in registry.catalog()} == {"core.if", "core.iff"}


def test_the_catalog_lists_an_unavailable_type_with_its_error():
    registry = NodeRegistry([Greet], modules=[NodeModule("tav_no_such_module", ("acme.foo",))])

    catalog = registry.catalog()

    entry = next(e for e in catalog if e["type"] == "acme.foo")
    assert set(entry) == CATALOG_KEYS
    assert entry["available"] is False
    assert entry["error"] == "ModuleNotFoundError: No module named 'tav_no_such_module'"
    assert entry["source"] == "tav_no_such_module"
    assert entry["category"] == "acme"
    assert registry.describe("acme.foo") == entry
    json.dumps(catalog)
    greet = next(e for e in catalog if e["type"] == "demo.greet")
    assert (greet["available"], greet["error"]) == (True, None)


def test_a_class_whose_params_schema_cannot_be_made_is_unavailable_in_the_catalog():
    class Opaque:
        pass

    class OddParams(BaseModel):
        model_config = {"arbitrary_types_allowed": True}
        thing: Opaque

    class Odd(Node):
        spec = NodeSpec(type="demo.odd")
        Params = OddParams

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {}

    registry = NodeRegistry([Greet, Odd])

    entry = registry.describe("demo.odd")

    assert entry["available"] is False
    assert entry["error"].startswith("PydanticInvalidForJsonSchema")
    assert {e["type"]: e["available"] for e in registry.catalog()} == {
        "demo.greet": True,
        "demo.odd": False,
    }


def test_a_plugin_cannot_take_a_recorded_built_in_type_id():
    from tav.nodes.builtin import BUILTIN_MODULES

    class Impostor(Node):
        spec = NodeSpec(type="core.noop")

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {"output": input}

    registry = NodeRegistry(modules=BUILTIN_MODULES)
    with pytest.raises(ValueError, match="defined twice"):
        registry.register(Impostor)
    with pytest.raises(ValueError, match="defined twice"):
        registry.add_module(NodeModule("acme_nodes", ("core.noop",)))
