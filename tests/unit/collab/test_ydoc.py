"""Workflow documents as Y.Docs and back (``tav.collab.ydoc``): every example workflow and
a document with every node type survive the round trip, long text params are shared text
that merges character by character, and writing a document changes only what differs."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from tav.collab.long_text import long_text_of
from tav.collab.ydoc import (
    edge_id,
    edit_text,
    new_doc,
    plain,
    read_document,
    roots,
    same,
    write_document,
)
from tav.core.errors import WorkflowInvalid
from tav.core.workflow import parse_workflow
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.params import long_text_params
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tests.unit.collab.replicas import exchange, synced

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.json"))
REGISTRY = NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES])
LONG_TEXT = long_text_of(REGISTRY)


def param(doc: Doc[Any], node_id: str, name: str) -> Any:
    nodes, _, _ = roots(doc)
    return nodes[node_id]["params"][name]


# -- round trips ---------------------------------------------------------------------------


def test_there_are_examples_to_round_trip():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_workflow_survives_the_round_trip(path: Path):
    document = json.loads(path.read_text())
    doc = new_doc(document, LONG_TEXT)
    back = read_document(doc, like=document)
    assert back == document
    assert [n["id"] for n in back["nodes"]] == [n["id"] for n in document["nodes"]]
    assert back["edges"] == document["edges"]  # in the same order
    # and through the wire, as a client's replica would hold it
    assert read_document(synced(doc), like=document) == document


def _sample(schema: dict[str, Any], root: dict[str, Any], name: str) -> Any:
    """A value of the JSON Schema ``schema`` (good enough for a round trip)."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        return _sample(target, root, name)
    if "enum" in schema:
        return schema["enum"][-1]
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if options:
        return _sample(
            {**options[0], **{k: v for k, v in schema.items() if k != "anyOf"}}, root, name
        )
    kind = schema.get("type")
    if kind == "string":
        return f"{name}: hello {{{{ input.name }}}}\nsecond line — ünïcode 😀"
    if kind == "integer":
        return 3
    if kind == "number":
        return 2.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_sample(schema.get("items", {"type": "string"}), root, name), None]
    return {"key": [1, 2.5, "x", False, None], "nested": {"deep": {"er": 0}}}


def _every_type_document() -> dict[str, Any]:
    nodes, positions = [], {}
    for index, entry in enumerate(REGISTRY.catalog()):
        schema = entry["params_schema"]
        params = {
            name: _sample(prop, schema, name) for name, prop in schema.get("properties", {}).items()
        }
        node_id = f"n{index}_{entry['type'].replace('.', '_')}"
        nodes.append(
            {
                "id": node_id,
                "type": entry["type"],
                "version": entry["version"],
                "name": f"Node {index}",
                "params": params,
                "retry": {"max_attempts": 2, "backoff_s": 0.5, "jitter": False},
                "timeout_s": 12.5,
                "on_error": "branch",
                "pool": "http",
                "pin": {"output": {"pinned": [1, 2]}},
            }
        )
        positions[node_id] = [index * 220, -index * 40]
    edges = [{"from": f"{a['id']}:error", "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {
        "schema": 1,
        "name": "Every node type",
        "description": "One node of each type.",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        "vars": {"limit": 10, "ratio": 0.25, "on": False, "list": ["a", {"b": None}]},
        "nodes": nodes,
        "edges": edges,
        "settings": {"keep_successes": "summary"},
        "ui": {
            "positions": positions,
            "notes": [{"id": "note-1", "text": "Read me", "position": [5, 6], "color": "blue"}],
            "viewport": {"x": 1, "y": 2, "zoom": 1.5},
        },
    }


def test_a_document_with_every_node_type_survives_the_round_trip():
    document = _every_type_document()
    assert len(document["nodes"]) == len(REGISTRY.catalog()) > 30
    doc = new_doc(document, LONG_TEXT)
    assert read_document(doc, like=document) == document
    assert read_document(synced(doc), like=document) == document


def test_long_text_params_are_shared_text_and_the_others_plain_values():
    document = _every_type_document()
    doc = new_doc(document, LONG_TEXT)
    nodes, _, _ = roots(doc)
    texts = 0
    for node in document["nodes"]:
        shared = nodes[node["id"]]
        assert isinstance(shared, Map)
        assert isinstance(shared["params"], Map)
        assert shared["position"] == document["ui"]["positions"][node["id"]]
        long = long_text_params(REGISTRY.get(node["type"]).Params.model_json_schema())
        for name, value in node["params"].items():
            kind = shared["params"][name]
            if name in long and isinstance(value, str):
                assert isinstance(kind, Text), (node["type"], name)
                texts += 1
            else:
                assert not isinstance(kind, Text | Map), (node["type"], name)
    assert texts >= 15  # prompts, system prompts, message bodies, export texts


def test_the_prompt_of_an_llm_node_is_shared_text():
    assert LONG_TEXT("ai.llm_chat", "prompt")
    assert LONG_TEXT("ai.llm_chat", "system")
    assert not LONG_TEXT("ai.llm_chat", "temperature")
    assert not LONG_TEXT("core.http_request", "url")
    assert not LONG_TEXT("no.such_type", "prompt")


@pytest.mark.parametrize(
    "document",
    [
        {"schema": 1, "name": "bare"},
        {"schema": 1, "name": "no ui", "nodes": [{"id": "a", "type": "core.noop"}], "edges": []},
        {"schema": 1, "name": "empty ui", "nodes": [], "edges": [], "ui": {}},
        {
            "schema": 1,
            "name": "a position of no node, and one node without one",
            "nodes": [{"id": "a", "type": "core.noop"}, {"id": "b", "type": "core.noop"}],
            "edges": [{"from": "a", "to": "b:input"}],
            "ui": {"positions": {"a": [1, 2], "gone": [3, 4]}},
        },
        {
            "schema": 1,
            "name": "numbers",
            "vars": {"int": 1, "big": 2**52, "float": 0.1, "neg": -7, "zero": 0, "t": True},
            "nodes": [{"id": "a", "type": "core.set", "params": {"values": {"n": 1, "f": 1.5}}}],
            "edges": [],
        },
    ],
    ids=lambda document: document["name"],
)
def test_documents_of_every_shape_survive_the_round_trip(document: dict[str, Any]):
    back = read_document(new_doc(document, LONG_TEXT), like=document)
    expected = {**document, "nodes": document.get("nodes", []), "edges": document.get("edges", [])}
    assert back == expected
    assert json.dumps(back, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_whole_numbers_come_back_as_ints_and_booleans_stay_booleans():
    document = {"schema": 1, "name": "n", "vars": {"a": 3, "b": True, "c": [0, False, 2.0]}}
    back = read_document(new_doc(document))
    assert back["vars"] == {"a": 3, "b": True, "c": [0, False, 2]}
    assert type(back["vars"]["a"]) is int
    assert back["vars"]["b"] is True
    assert back["vars"]["c"][1] is False


def test_the_edge_ids_are_the_editors():
    assert edge_id("a", "b") == "a:output->b:input"
    assert edge_id("ok:true", "sum") == "ok:true->sum:input"
    assert edge_id("a:error", "b:items") == "a:error->b:items"
    doc = new_doc({"schema": 1, "name": "e", "edges": [{"from": "ok:true", "to": "sum"}]})
    _, edges, _ = roots(doc)
    assert list(edges.keys()) == ["ok:true->sum:input"]
    assert plain(edges["ok:true->sum:input"]) == {"from": "ok:true", "to": "sum"}


def test_the_meta_map_holds_the_documents_own_fields_and_the_notes():
    document = _every_type_document()
    _, _, meta = roots(new_doc(document, LONG_TEXT))
    assert set(meta.keys()) == {
        "schema",
        "name",
        "description",
        "input_schema",
        "vars",
        "settings",
        "notes",
        "ui",
    }
    assert plain(meta["notes"]) == document["ui"]["notes"]
    assert plain(meta["ui"]) == {"viewport": {"x": 1, "y": 2, "zoom": 1.5}}


def test_nodes_and_edges_unknown_to_the_order_come_after_the_known_ones_by_id():
    document = {
        "schema": 1,
        "name": "o",
        "nodes": [{"id": "z", "type": "core.noop"}, {"id": "m", "type": "core.noop"}],
        "edges": [{"from": "z", "to": "m"}],
    }
    doc = new_doc(document)
    nodes, edges, _ = roots(doc)
    nodes["b"] = Map({"type": "core.noop"})
    nodes["a"] = Map({"type": "core.noop"})
    edges["x"] = Map({"from": "m", "to": "a"})
    back = read_document(doc, like=document)
    assert [node["id"] for node in back["nodes"]] == ["z", "m", "a", "b"]
    assert back["edges"] == [{"from": "z", "to": "m"}, {"from": "m", "to": "a"}]
    assert [node["id"] for node in read_document(doc)["nodes"]] == ["a", "b", "m", "z"]


# -- what clients may write ----------------------------------------------------------------


def test_any_shape_a_client_writes_reads_back_as_a_document_for_validation_to_judge():
    doc = new_doc({"schema": 1, "name": "x", "nodes": [{"id": "a", "type": "core.noop"}]})
    nodes, edges, meta = roots(doc)
    with doc.transaction():
        nodes["text"] = "not a node"
        nodes["plain"] = {"type": "core.noop", "params": {"a": 1}, "position": [1, 2]}
        nodes["a"]["params"] = "not params"
        edges["half"] = Map({"from": "a"})
        edges["junk"] = 42
        meta["name"] = Text("shared name")
    back = read_document(doc)
    assert back["name"] == "shared name"
    assert {"id": "text"} in back["nodes"]
    assert {"id": "plain", "type": "core.noop", "params": {"a": 1}} in back["nodes"]
    assert back["ui"]["positions"] == {"plain": [1, 2]}
    assert {"id": "a", "type": "core.noop", "params": "not params"} in back["nodes"]
    assert back["edges"] == [{"from": "a"}]
    with pytest.raises(WorkflowInvalid) as raised:
        parse_workflow(back)  # validation says what is wrong; reading never failed
    assert {"node": "text", "field": "type"} in [
        {"node": p.node, "field": p.field} for p in raised.value.problems
    ]


def test_writing_a_document_of_any_shape_never_fails():
    doc: Doc[Any] = Doc()
    strange = {
        "nodes": [None, 3, {"id": 5}, {"id": "ok", "params": [1, 2]}, {"no": "id"}],
        "edges": "not a list",
        "ui": ["not", "a", "map"],
        "vars": {"x": {"y": [None, {"z": 1}]}},
    }
    write_document(doc, strange, LONG_TEXT)
    back = read_document(doc)
    assert back["nodes"] == [{"id": "ok", "params": [1, 2]}]
    assert back["vars"] == {"x": {"y": [None, {"z": 1}]}}


# -- writing changes only what differs -----------------------------------------------------


def _llm_document(prompt: str, temperature: float = 0.2) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "ask",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "ask",
                "type": "ai.llm_chat",
                "params": {"prompt": prompt, "temperature": temperature},
            },
        ],
        "edges": [{"from": "start", "to": "ask"}],
        "ui": {"positions": {"start": [0, 0], "ask": [220, 0]}},
    }


def test_writing_the_same_document_again_changes_nothing():
    document = _every_type_document()
    doc = new_doc(document, LONG_TEXT)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    write_document(doc, copy.deepcopy(document), LONG_TEXT)
    assert updates == []


def test_writing_a_changed_document_is_one_small_update_of_what_changed():
    document = _every_type_document()
    doc = new_doc(document, LONG_TEXT)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    changed = copy.deepcopy(document)
    changed["nodes"][3]["params"] = {**changed["nodes"][3]["params"], "extra": 1}
    changed["nodes"].pop(0)
    changed["ui"]["positions"][changed["nodes"][5]["id"]] = [1, 1]
    write_document(doc, changed, LONG_TEXT)
    assert len(updates) == 1  # one transaction: one update everyone gets at once
    assert len(updates[0]) < 2_000
    assert read_document(doc, like=changed) == changed | {"edges": changed["edges"]}


def test_a_changed_long_text_is_edited_where_it_differs():
    doc = new_doc(_llm_document("Summarize: {{ input }}"), LONG_TEXT)
    text = param(doc, "ask", "prompt")
    write_document(doc, _llm_document("Summarize briefly: {{ input }}"), LONG_TEXT)
    assert str(param(doc, "ask", "prompt")) == "Summarize briefly: {{ input }}"
    assert str(text) == "Summarize briefly: {{ input }}"  # the same shared text, edited


def test_a_save_while_someone_types_in_the_same_prompt_keeps_both():
    server = new_doc(_llm_document("Summarize: {{ input }}"), LONG_TEXT)
    client = synced(server)
    param(client, "ask", "prompt").insert(len("Summarize: {{ input }}"), " Be kind.")
    write_document(server, _llm_document("Please summarize: {{ input }}", 0.9), LONG_TEXT)
    exchange(server, client)
    for doc in (server, client):
        assert str(param(doc, "ask", "prompt")) == "Please summarize: {{ input }} Be kind."
        assert param(doc, "ask", "temperature") == 0.9


def test_two_people_typing_in_the_same_prompt_merge_character_by_character():
    alice = new_doc(_llm_document("Hello world"), LONG_TEXT)
    bob = synced(alice)
    param(alice, "ask", "prompt").insert(5, ", dear")  # "Hello, dear world"
    param(bob, "ask", "prompt").insert(11, "!")  # "Hello world!"
    del param(bob, "ask", "prompt")[0:1]  # "ello world!"
    exchange(alice, bob)
    assert str(param(alice, "ask", "prompt")) == str(param(bob, "ask", "prompt"))
    assert str(param(alice, "ask", "prompt")) == "ello, dear world!"


def test_two_people_changing_two_params_of_one_node_both_win():
    alice = new_doc(_llm_document("p"), LONG_TEXT)
    bob = synced(alice)
    write_document(alice, _llm_document("p", temperature=0.7), LONG_TEXT)
    roots(bob)[0]["ask"]["params"]["max_tokens"] = 100
    exchange(alice, bob)
    expected = {"prompt": "p", "temperature": 0.7, "max_tokens": 100}
    for doc in (alice, bob):
        assert plain(roots(doc)[0]["ask"]["params"]) == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", "abc"),
        ("abc", ""),
        ("abc", "abc"),
        ("héllo 😀 wörld", "héllo 😀😀 wörld!"),
        ("😀😀😀", "😀x😀"),
        ("aaa", "aaaa"),
        ("line one\nline two", "line one\nline 2\nline three"),
    ],
)
def test_editing_a_text_in_place_gives_the_new_text(old: str, new: str):
    doc: Doc[Any] = Doc()
    meta = doc.get("meta", type=Map)
    meta["t"] = Text(old)
    edit_text(meta["t"], new)
    assert str(meta["t"]) == new
    assert str(synced(doc).get("meta", type=Map)["t"]) == new


def test_same_tells_json_values_apart_as_json_does():
    assert same(1, 1.0)
    assert not same(1, True)
    assert not same(0, False)
    assert same({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not same({"a": 1}, {"a": 1, "b": 2})
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # the order of the keys is the user's
    assert not same([1], (1, 2))
    assert not same("1", 1)
    assert not same(None, 0)
