"""The workflow document v1: parsing, defaults, round trips and structural checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tav.core.errors import Problem, WorkflowInvalid
from tav.core.workflow import EdgeDef, Workflow, check_structure, parse_workflow
from tests.helpers import document, node

DESIGN_EXAMPLE: dict[str, Any] = {
    "schema": 1,
    "name": "Summarize a page",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {
            "id": "fetch",
            "type": "core.http_request",
            "params": {"url": "{{ trigger.url }}"},
            "retry": {"max_attempts": 3, "backoff_s": 0.5},
            "timeout_s": 20,
            "on_error": "stop",
        },
        {
            "id": "ok",
            "type": "core.if",
            "params": {"condition": "{{ nodes.fetch.output.status == 200 }}"},
        },
        {
            "id": "sum",
            "type": "ai.llm_chat",
            "params": {"prompt": "Summarize: {{ nodes.fetch.output.body }}"},
        },
    ],
    "edges": [
        {"from": "start", "to": "fetch"},
        {"from": "fetch", "to": "ok"},
        {"from": "ok:true", "to": "sum"},
    ],
    "ui": {"positions": {"start": [0, 0]}},
}


def problems_of(data: Any) -> list[Problem]:
    with pytest.raises(WorkflowInvalid) as info:
        parse_workflow(data)
    return info.value.problems


def where(problems: list[Problem]) -> set[tuple[str | None, int | None, str | None]]:
    return {(p.node, p.edge, p.field) for p in problems}


# -- parsing and defaults ----------------------------------------------------------------


def test_the_design_example_parses():
    workflow = parse_workflow(DESIGN_EXAMPLE)
    assert workflow.name == "Summarize a page"
    assert [n.id for n in workflow.nodes] == ["start", "fetch", "ok", "sum"]
    fetch = workflow.node("fetch")
    assert fetch.retry is not None
    assert (fetch.retry.max_attempts, fetch.retry.backoff_s) == (3, 0.5)
    assert fetch.timeout_s == 20
    assert workflow.ui == {"positions": {"start": [0, 0]}}


def test_node_and_workflow_defaults():
    workflow = parse_workflow({"schema": 1, "name": "w", "nodes": [{"id": "a", "type": "x.y"}]})
    a = workflow.node("a")
    assert (a.params, a.version, a.retry, a.timeout_s, a.on_error, a.pin) == (
        {},
        None,
        None,
        None,
        "stop",
        None,
    )
    assert (workflow.description, workflow.vars, workflow.edges, workflow.ui) == ("", {}, [], {})


def test_retry_defaults_match_the_documented_policy():
    workflow = parse_workflow(document(node("a", retry={})))
    retry = workflow.node("a").retry
    assert retry is not None
    assert (retry.max_attempts, retry.backoff_factor, retry.jitter) == (3, 2.0, True)


def test_looking_up_a_missing_node_raises_key_error():
    with pytest.raises(KeyError):
        parse_workflow(document(node("a"))).node("b")


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("a", "b", ("a", "output", "b", "input")),
        ("ok:true", "sum", ("ok", "true", "sum", "input")),
        ("a", "m:left", ("a", "output", "m", "left")),
        ("sw:high-prio", "b:in_2", ("sw", "high-prio", "b", "in_2")),
    ],
)
def test_edge_ends_default_to_the_output_and_input_ports(source, target, expected):
    edge = EdgeDef.model_validate({"from": source, "to": target})
    assert (edge.source_node, edge.source_port, edge.target_node, edge.target_port) == expected


@pytest.mark.parametrize("end", ["a::", "a:x:y", ":x", "a b", "", "1a", "a:", "a:1x"])
def test_malformed_edge_ends_are_located(end):
    doc = document(node("a"), node("b"))
    doc["edges"] = [{"from": "a", "to": "b"}, {"from": end, "to": "b"}]
    (problem,) = problems_of(doc)
    assert (problem.edge, problem.field) == (1, "from")


def test_a_malformed_edge_end_names_the_expected_syntax():
    doc = document(node("a"), node("b"))
    doc["edges"] = [{"from": "a", "to": "b:x:y"}]
    (problem,) = problems_of(doc)
    assert str(problem) == "edge #0, to: edge ends are 'node' or 'node:port', got 'b:x:y'"


# -- round trips ---------------------------------------------------------------------


def test_to_document_round_trips():
    workflow = parse_workflow(DESIGN_EXAMPLE)
    data = workflow.to_document()
    assert parse_workflow(json.loads(json.dumps(data))) == workflow


def test_to_document_writes_the_file_keys_and_leaves_out_unset_settings():
    data = parse_workflow(DESIGN_EXAMPLE).to_document()
    assert data["schema"] == 1
    assert data["edges"][2] == {"from": "ok:true", "to": "sum"}
    assert data["nodes"][0] == {
        "id": "start",
        "type": "trigger.manual",
        "params": {},
        "on_error": "stop",
    }
    assert data["ui"] == DESIGN_EXAMPLE["ui"]


def test_a_recorded_node_version_survives_a_round_trip():
    workflow = parse_workflow(document(node("a", version=3)))
    assert workflow.to_document()["nodes"][0]["version"] == 3


# -- field-level problems ---------------------------------------------------------------


@pytest.mark.parametrize("schema", [2, 0, "1", "v1", None])
def test_schema_must_be_1(schema):
    (problem,) = problems_of({"schema": schema, "name": "w"})
    assert problem.field == "schema"
    assert str(problem).startswith("schema: ")


def test_unknown_fields_are_rejected_with_their_location():
    doc = document(node("a", colour="red", retry={"max_attemps": 2}), node("b"), links=("a -> b",))
    doc["edges"][0]["label"] = "x"
    doc["bogus"] = True
    problems = problems_of(doc)
    assert where(problems) == {
        ("a", None, "colour"),
        ("a", None, "retry.max_attemps"),
        (None, 0, "label"),
        (None, None, "bogus"),
    }
    assert all(p.message == "unknown field" for p in problems)
    assert "node 'a', retry.max_attemps: unknown field" in {str(p) for p in problems}


@pytest.mark.parametrize("node_id", ["a", "_private", "fetch_2", "Fetch", "x" * 64])
def test_valid_node_ids(node_id):
    assert parse_workflow(document(node(node_id))).nodes[0].id == node_id


@pytest.mark.parametrize("node_id", ["1a", "a-b", "a b", "a.b", "a:b", "", "é", "x" * 65])
def test_invalid_node_ids_are_located_by_index(node_id):
    (problem,) = problems_of(document(node("ok"), node(node_id)))
    assert (problem.node, problem.field) == ("#1", "id")
    assert "letters, digits and '_'" in problem.message


def test_missing_fields_are_located():
    doc = {"schema": 1, "nodes": [{"id": "a"}], "edges": [{"from": "a"}]}
    problems = problems_of(doc)
    assert where(problems) == {(None, None, "name"), ("a", None, "type"), (None, 0, "to")}
    assert {p.message for p in problems} == {"required field is missing"}


def test_invalid_node_settings_are_located():
    bad = node("a", on_error="retry", timeout_s=0, retry={"max_attempts": 0}, version=0)
    assert where(problems_of(document(bad))) == {
        ("a", None, "on_error"),
        ("a", None, "timeout_s"),
        ("a", None, "retry.max_attempts"),
        ("a", None, "version"),
    }


def test_a_blank_name_is_rejected():
    (problem,) = problems_of({"schema": 1, "name": "   "})
    assert problem.field == "name"


@pytest.mark.parametrize("data", [None, [], "workflow", 3])
def test_a_document_that_is_not_an_object_is_a_problem_of_the_workflow(data):
    (problem,) = problems_of(data)
    assert problem.location == "workflow"


# -- structure: every problem at once ---------------------------------------------------


def test_structure_problems_are_all_reported_at_once():
    doc = document(
        node("a"),
        node("a"),
        node("b"),
        node("c"),
        links=("a -> ghost", "phantom -> b", "b -> b", "a -> b", "a -> b", "b -> c"),
    )
    problems = problems_of(doc)
    assert [str(p) for p in problems] == [
        "node 'a': duplicate node id (used 2 times)",
        "edge #0, to: unknown node 'ghost'",
        "edge #1, from: unknown node 'phantom'",
        "edge #2: an edge cannot connect a node to itself",
        "edge #4: duplicate edge a → b",
    ]


def test_an_edge_between_two_missing_nodes_reports_both_ends():
    problems = check_structure(Workflow.model_validate(document(links=("x -> y",))))
    assert where(problems) == {(None, 0, "from"), (None, 0, "to")}


def test_a_duplicate_edge_is_the_same_ends_not_the_same_nodes():
    wf = Workflow.model_validate(
        document(node("a", "core.if"), node("b"), links=("a:true -> b", "a:false -> b"))
    )
    assert check_structure(wf) == []


def test_a_cycle_names_its_nodes_in_edge_order():
    (problem,) = problems_of(
        document(
            node("a"),
            node("b"),
            node("c"),
            node("d"),
            links=("a -> b", "b -> c", "c -> a", "c -> d"),
        )
    )
    assert problem.message == "the edges form a cycle: a → b → c → a"
    assert problem.node == "a"


def test_a_cycle_starts_at_its_first_node_in_the_document():
    doc = document(
        node("x"), node("c"), node("b"), node("a"), links=("a -> b", "b -> c", "c -> a", "x -> a")
    )
    (problem,) = problems_of(doc)
    assert problem.message == "the edges form a cycle: c → a → b → c"
    assert problem.node == "c"


def test_a_two_node_cycle_through_ports():
    doc = document(node("a", "core.if"), node("b"), links=("a:true -> b", "b -> a"))
    (problem,) = problems_of(doc)
    assert problem.message == "the edges form a cycle: a → b → a"


def test_a_self_loop_is_not_reported_twice_as_a_cycle():
    (problem,) = problems_of(document(node("a"), links=("a -> a",)))
    assert problem.edge == 0
    assert "itself" in problem.message


def test_a_valid_diamond_has_no_problems():
    wf = Workflow.model_validate(
        document(
            node("a"),
            node("b"),
            node("c"),
            node("d"),
            links=("a -> b", "a -> c", "b -> d", "c -> d"),
        )
    )
    assert check_structure(wf) == []


# -- problems and the error -------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem("bad", node="a", field="params.url"), "node 'a', params.url: bad"),
        (Problem("bad", edge=2, field="to"), "edge #2, to: bad"),
        (Problem("bad", edge=0), "edge #0: bad"),
        (Problem("bad", field="name"), "name: bad"),
        (Problem("bad"), "workflow: bad"),
    ],
)
def test_a_problem_reads_as_location_then_message(problem, text):
    assert str(problem) == text


def test_a_problem_as_data():
    assert Problem("bad", node="a", field="type").to_dict() == {
        "location": "node 'a', type",
        "node": "a",
        "edge": None,
        "field": "type",
        "message": "bad",
    }


def test_workflow_invalid_lists_every_problem_and_the_source():
    with pytest.raises(WorkflowInvalid) as info:
        parse_workflow(document(node("a"), node("a"), links=("a -> b",)), source="flows/x.json")
    text = str(info.value)
    assert text.startswith("invalid workflow (flows/x.json): 2 problem(s)")
    assert "  - node 'a': duplicate node id (used 2 times)" in text
    assert "  - edge #0, to: unknown node 'b'" in text
    assert info.value.source == "flows/x.json"


def test_an_input_schema_is_optional_and_kept_as_written():
    schema = {"type": "object", "properties": {"order": {"type": "string"}}}
    declared = parse_workflow(document(node("a"), input_schema=schema))

    assert declared.input_schema == schema
    assert declared.to_document()["input_schema"] == schema
    assert "input_schema" not in parse_workflow(document(node("a"))).to_document()
    with pytest.raises(WorkflowInvalid, match="input_schema"):
        parse_workflow(document(node("a"), input_schema="order"))
