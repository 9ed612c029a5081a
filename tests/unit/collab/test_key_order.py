"""The order of an object's keys in a live draft (``tav.collab.ydoc``): objects and arrays are
kept as JSON text in a ``{"$json": ...}`` wrapper, since yrs (pycrdt) holds a plain object
as a hash map and loses the order of its keys; drafts written before the wrapper still
load; values are still replaced whole, and two params changed at once both win."""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Doc, Map, Text

from tav.collab.long_text import long_text_of
from tav.collab.ydoc import (
    JSON,
    new_doc,
    plain,
    read_document,
    roots,
    wrap_plain_values,
    write_document,
)
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tests.unit.collab.replicas import exchange, synced

LONG_TEXT = long_text_of(NodeRegistry(BUILTIN_NODE_TYPES))
# Enough keys, out of alphabetical order, that a hash map's order is not theirs by chance
# (the odds are 1 in 40,320 for each object).
ORDER = ["who", "total", "tags", "zeta", "alpha", "mid", "omega", "beta"]


def ordered(start: int = 0) -> dict[str, Any]:
    return {key: start + index for index, key in enumerate(ORDER)}


def keys_all_the_way(value: Any) -> list[Any]:
    """Every object's keys in their order, depth first: what ``==`` of dicts ignores."""
    if isinstance(value, dict):
        return [list(value), *(keys_all_the_way(item) for item in value.values())]
    if isinstance(value, list):
        return [keys_all_the_way(item) for item in value]
    return []


def _document(values: dict[str, Any] | None = None) -> dict[str, Any]:
    schema_properties = {key: {"type": "string", "title": key.title()} for key in ORDER}
    return {
        "schema": 1,
        "name": "Ordered",
        "input_schema": {"type": "object", "properties": schema_properties, "required": ORDER},
        "vars": ordered(100),
        "nodes": [
            {"id": "start", "type": "trigger.manual", "pin": {"output": ordered(200)}},
            {
                "id": "set",
                "type": "core.set",
                "params": {"values": values if values is not None else ordered()},
                "retry": {"max_attempts": 3, "backoff_s": 1.5, "jitter": False},
            },
            {
                "id": "ask",
                "type": "ai.llm_chat",
                "params": {"prompt": "Hello", "temperature": 0.5, "stop": ["b", "a"]},
            },
        ],
        "edges": [{"from": "start", "to": "set"}, {"from": "set", "to": "ask"}],
        "settings": {"keep_successes": "summary", "timezone": "UTC", "concurrency": 2},
        "ui": {
            "viewport": {"zoom": 1.5, "y": 2, "x": 1},
            "positions": {"start": [0, 0], "set": [280, 0], "ask": [560, 0]},
            "notes": [{"text": "Why", "id": "note-1", "position": [5, 6], "color": "blue"}],
        },
    }


def test_every_objects_keys_keep_their_order_through_the_doc_and_the_wire():
    document = _document()
    doc = new_doc(document, LONG_TEXT)
    for replica in (doc, synced(doc)):
        back = read_document(replica, like=document)
        assert back == document
        assert list(back["nodes"][1]["params"]["values"]) == ORDER
        assert list(back["input_schema"]["properties"]) == ORDER
        assert keys_all_the_way(back["vars"]) == keys_all_the_way(document["vars"])
        assert keys_all_the_way(back["settings"]) == keys_all_the_way(document["settings"])
        assert keys_all_the_way(back["nodes"]) == keys_all_the_way(document["nodes"])
        ui = {key: value for key, value in back["ui"].items() if key != "positions"}
        assert keys_all_the_way(ui) == keys_all_the_way(
            {key: value for key, value in document["ui"].items() if key != "positions"}
        )


def test_objects_and_arrays_are_json_text_in_a_wrapper_and_the_rest_as_it_was():
    doc = new_doc(_document(), LONG_TEXT)
    nodes, edges, meta = roots(doc)
    params = nodes["set"]["params"]
    assert set(params["values"]) == {JSON}
    assert list(json.loads(params["values"][JSON])) == ORDER
    assert json.loads(nodes["ask"]["params"]["stop"][JSON]) == ["b", "a"]
    assert isinstance(nodes["ask"]["params"]["prompt"], Text)  # long text: shared text
    assert nodes["ask"]["params"]["temperature"] == 0.5  # a scalar as it is
    assert nodes["set"]["type"] == "core.set"
    assert nodes["set"]["position"] == [280, 0]  # a plain [x, y], as clients read it
    assert set(nodes["set"]["retry"]) == {JSON}
    assert set(nodes["start"]["pin"]) == {JSON}
    assert plain(edges["start:output->set:input"]) == {"from": "start", "to": "set"}
    for key in ("input_schema", "vars", "settings", "notes", "ui"):
        assert set(meta[key]) == {JSON}, key
    assert meta["name"] == "Ordered"


def test_a_value_shaped_like_the_wrapper_reads_back_as_itself():
    lookalike = {JSON: '{"b": 1, "a": 2}'}
    document = _document(values={"x": lookalike, JSON: "[1]"})
    back = read_document(new_doc(document, LONG_TEXT), like=document)
    assert back["nodes"][1]["params"]["values"] == {"x": lookalike, JSON: "[1]"}
    vars_only = {"schema": 1, "name": "v", "vars": lookalike}
    assert read_document(new_doc(vars_only))["vars"] == lookalike


def test_a_client_object_that_only_looks_like_a_wrapper_reads_as_it_is():
    doc = new_doc(_document(), LONG_TEXT)
    roots(doc)[0]["set"]["params"]["values"] = {JSON: "not JSON {"}
    assert read_document(doc)["nodes"][1]["params"]["values"] == {JSON: "not JSON {"}


def _old_draft(document: dict[str, Any]) -> Doc[Any]:
    """A draft as it was written before the wrapper: objects and arrays as plain values."""
    doc: Doc[Any] = Doc()
    nodes, edges, meta = roots(doc)
    positions = document["ui"]["positions"]
    with doc.transaction():
        for node in document["nodes"]:
            fields: dict[str, Any] = {k: v for k, v in node.items() if k not in ("id", "params")}
            params = {
                key: Text(value) if LONG_TEXT(node["type"], key) else value
                for key, value in node.get("params", {}).items()
            }
            if params:
                fields["params"] = Map(params)
            nodes[node["id"]] = Map({**fields, "position": positions[node["id"]]})
        for edge in document["edges"]:
            edges[f"{edge['from']}:output->{edge['to']}:input"] = Map(edge)
        for key, value in document.items():
            if key not in ("nodes", "edges", "ui"):
                meta[key] = value
        meta["notes"] = document["ui"]["notes"]
        meta["ui"] = {"viewport": document["ui"]["viewport"]}
    return doc


def test_a_draft_written_before_the_wrapper_still_loads():
    document = _document()
    old = _old_draft(document)
    assert not isinstance(roots(old)[0]["set"]["params"]["values"].get(JSON), str)
    assert read_document(old, like=document) == document  # the order as yrs gives it
    assert read_document(synced(old), like=document) == document


def test_writing_a_document_over_an_old_draft_wraps_its_objects_in_the_documents_order():
    document = _document()
    old = _old_draft(document)
    write_document(old, document, LONG_TEXT)
    nodes, _, meta = roots(old)
    assert list(json.loads(nodes["set"]["params"]["values"][JSON])) == ORDER
    assert set(meta["input_schema"]) == {JSON}
    back = read_document(old, like=document)
    assert keys_all_the_way(back["nodes"]) == keys_all_the_way(document["nodes"])
    assert list(back["input_schema"]["properties"]) == ORDER


def test_a_save_that_only_reorders_the_keys_of_a_value_is_written():
    document = _document()
    doc = new_doc(document, LONG_TEXT)
    reordered = _document(values=dict(reversed(ordered().items())))
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    write_document(doc, reordered, LONG_TEXT)
    assert len(updates) == 1
    back = read_document(synced(doc), like=reordered)
    assert list(back["nodes"][1]["params"]["values"]) == ORDER[::-1]


def test_a_wrapped_value_is_still_replaced_whole_and_two_params_changed_at_once_both_win():
    document = _document()
    alice = new_doc(document, LONG_TEXT)
    bob = synced(alice)
    write_document(alice, _document(values={"alice": 1, "first": 2}), LONG_TEXT)
    bobs = _document(values={"bob": 1, "second": 2})
    bobs["nodes"][2]["params"]["stop"] = ["z", "y", "x"]
    write_document(bob, bobs, LONG_TEXT)
    exchange(alice, bob)
    values = [read_document(doc)["nodes"] for doc in (alice, bob)]
    assert values[0] == values[1]
    by_id = {node["id"]: node for node in values[0]}
    # One of the two whole values, never a mix of their keys.
    assert list(by_id["set"]["params"]["values"]) in (["alice", "first"], ["bob", "second"])
    assert by_id["ask"]["params"]["stop"] == ["z", "y", "x"]  # only bob changed it


def test_params_read_back_in_the_order_of_the_saved_version_then_by_name():
    document = _document()
    document["nodes"][2]["params"] = {"temperature": 0.5, "prompt": "Hello", "stop": ["b"]}
    doc = new_doc(document, LONG_TEXT)
    roots(doc)[0]["ask"]["params"]["max_tokens"] = 10
    roots(doc)[0]["ask"]["params"]["model"] = "m"
    back = read_document(doc, like=document)
    order = ["temperature", "prompt", "stop", "max_tokens", "model"]
    assert list(back["nodes"][2]["params"]) == order


def test_a_room_wraps_an_old_drafts_objects_in_the_order_of_the_saved_version():
    document = _document()
    old = _old_draft(document)
    nodes, _, meta = roots(old)
    nodes["set"]["params"]["values"] = {**ordered(), "added": 8}  # a row added in the draft
    prompt = nodes["ask"]["params"]["prompt"]
    updates: list[bytes] = []
    old.observe(lambda event: updates.append(event.update))
    wrap_plain_values(old, like=document)
    assert len(updates) == 1  # one change, for everyone
    assert list(json.loads(nodes["set"]["params"]["values"][JSON])) == [*ORDER, "added"]
    for key in ("input_schema", "vars", "settings", "notes", "ui"):
        assert set(meta[key]) == {JSON}, key
    assert set(nodes["start"]["pin"]) == {JSON}
    assert nodes["set"]["position"] == [280, 0]
    assert isinstance(nodes["ask"]["params"]["prompt"], Text)  # shared text left alone
    assert str(prompt) == "Hello"
    back = read_document(synced(old), like=document)
    assert keys_all_the_way(back["input_schema"]) == keys_all_the_way(document["input_schema"])
    assert keys_all_the_way(back["ui"]["notes"]) == keys_all_the_way(document["ui"]["notes"])
    wrap_plain_values(old, like=document)
    assert len(updates) == 1  # nothing left to wrap: no change


def test_wrapping_an_old_draft_keeps_what_the_saved_version_lacks():
    old = _old_draft(_document())
    roots(old)[2]["extra"] = {"b": 1, "a": [{"y": 1, "x": 2}]}
    wrap_plain_values(old, like={"schema": 1, "name": "none of it"})
    assert read_document(old)["extra"] == {"b": 1, "a": [{"y": 1, "x": 2}]}
    assert set(roots(old)[2]["extra"]) == {JSON}
