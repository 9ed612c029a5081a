"""Loading workflow files: JSON and YAML, syntax errors with lines, relative references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tav.core.errors import NotFound, Problem, WorkflowInvalid
from tav.engine.loader import FileWorkflowLoader, load_workflow_file, parse_document
from tav.engine.plan import compile_plan
from tests.helpers import document, node

DOC = document(
    node("start", "trigger.manual"),
    node("wait", "core.delay", params={"seconds": 0}, retry={"max_attempts": 2}),
    node("branch", "core.if", params={"condition": "{{ trigger.go }}"}),
    node("out", "core.output"),
    links=("start -> wait", "wait -> branch", "branch:true -> out"),
    name="loaded",
    vars={"greeting": "hi"},
)

YAML_TEXT = """\
schema: 1
name: loaded
vars:
  greeting: hi
nodes:
  - {id: start, type: trigger.manual}
  - id: wait
    type: core.delay
    params: {seconds: 0}
    retry: {max_attempts: 2}
  - id: branch
    type: core.if
    params:
      condition: "{{ trigger.go }}"
  - {id: out, type: core.output}
edges:
  - {from: start, to: wait}
  - {from: wait, to: branch}
  - {from: "branch:true", to: out}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problem_of(path: Path) -> Problem:
    with pytest.raises(WorkflowInvalid) as info:
        load_workflow_file(path)
    assert info.value.source == str(path)
    (problem,) = info.value.problems
    return problem


def test_a_json_file_loads(tmp_path):
    workflow = load_workflow_file(write(tmp_path / "flow.json", json.dumps(DOC)))
    assert workflow.name == "loaded"
    assert [n.id for n in workflow.nodes] == ["start", "wait", "branch", "out"]
    assert workflow.edges[2].source_port == "true"


@pytest.mark.parametrize("name", ["flow.yaml", "flow.yml", "FLOW.YML"])
def test_a_yaml_file_loads_to_the_same_workflow(tmp_path, name):
    from_yaml = load_workflow_file(write(tmp_path / name, YAML_TEXT))
    from_json = load_workflow_file(write(tmp_path / "flow.json", json.dumps(DOC)))
    assert from_yaml == from_json


def test_a_loaded_workflow_round_trips_through_both_formats(tmp_path):
    original = load_workflow_file(write(tmp_path / "a.yaml", YAML_TEXT))
    as_json = write(tmp_path / "b.json", json.dumps(original.to_document()))
    as_yaml = write(tmp_path / "c.yaml", yaml.safe_dump(original.to_document()))
    assert load_workflow_file(as_json) == original
    assert load_workflow_file(as_yaml) == original


def test_a_loaded_file_compiles(tmp_path, registry):
    plan = compile_plan(load_workflow_file(write(tmp_path / "f.yml", YAML_TEXT)), registry)
    assert plan.output_node == "out"
    assert plan.vars == {"greeting": "hi"}


def test_invalid_json_is_one_problem_with_its_line(tmp_path):
    text = '{"schema": 1,\n "name": "x",\n "nodes": [\n  {"id": "a" "type": "core.noop"}\n ]\n}\n'
    problem = problem_of(write(tmp_path / "bad.json", text))
    assert problem.location == "workflow"
    assert problem.message == "not valid JSON: Expecting ',' delimiter (line 4, column 14)"


def test_yaml_is_not_accepted_in_a_json_file(tmp_path):
    problem = problem_of(write(tmp_path / "flow.json", YAML_TEXT))
    assert problem.message.startswith("not valid JSON: ")
    assert "(line 1, column 1)" in problem.message


def test_invalid_yaml_is_one_problem_on_one_line_with_its_line(tmp_path):
    text = "schema: 1\nname: x\nnodes:\n  - id: a\n    type: [core.noop\nedges: []\n"
    problem = problem_of(write(tmp_path / "bad.yaml", text))
    assert problem.message.startswith("not valid YAML: ")
    assert "(line 6, column 6)" in problem.message
    assert "\n" not in problem.message


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just text\n"])
def test_a_yaml_file_that_is_not_a_mapping_is_a_problem(tmp_path, text):
    problem = problem_of(write(tmp_path / "odd.yaml", text))
    assert problem.location == "workflow"


def test_document_problems_in_a_file_are_located(tmp_path):
    doc: dict[str, Any] = document(node("a", colour="red"), node("1b"))
    doc["schema"] = 2
    with pytest.raises(WorkflowInvalid) as info:
        load_workflow_file(write(tmp_path / "flow.json", json.dumps(doc)))
    assert {str(p) for p in info.value.problems} == {
        "schema: Input should be 1",
        "node 'a', colour: unknown field",
        "node '#1', id: node ids are letters, digits and '_', starting with a letter or '_'",
    }
    assert f"({tmp_path / 'flow.json'})" in str(info.value)


def test_structure_and_type_problems_of_a_file_are_reported_together(tmp_path, registry):
    doc = document(node("a", "core.nop"), node("b"), links=("a -> b", "a -> b", "b -> ghost"))
    workflow = load_workflow_file(write(tmp_path / "flow.json", json.dumps(doc)))
    with pytest.raises(WorkflowInvalid) as info:
        compile_plan(workflow, registry, source="flow.json")
    assert {(p.node, p.edge, p.field) for p in info.value.problems} == {
        (None, 1, None),
        (None, 2, "to"),
        ("a", None, "type"),
    }


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound, match="workflow file not found"):
        load_workflow_file(tmp_path / "nope.json")


def test_a_directory_is_not_a_workflow_file(tmp_path):
    with pytest.raises(NotFound, match="cannot read workflow file"):
        load_workflow_file(tmp_path)


def test_parse_document_reads_yaml_only_when_allowed():
    assert parse_document("a: 1", source="x.yaml") == {"a": 1}
    with pytest.raises(WorkflowInvalid, match="not valid JSON"):
        parse_document("a: 1", source="x.yaml", yaml_allowed=False)


@pytest.mark.parametrize(
    ("text", "source", "message"),
    [
        ("[" * 100_000, "doc.json", "nested too deeply"),
        ("- " * 5_000 + "x", "doc.yaml", "nested too deeply"),
        ("1" * 5_000, "doc.json", "a value cannot be read"),
        ("when: 2024-13-45\n", "doc.yaml", "a value cannot be read: month must be in 1..12"),
    ],
)
def test_readable_syntax_with_unreadable_values_is_one_problem(text, source, message):
    with pytest.raises(WorkflowInvalid) as caught:
        parse_document(text, source=source)
    assert len(caught.value.problems) == 1
    assert message in caught.value.problems[0].message


async def test_file_loader_resolves_refs_relative_to_the_calling_workflow(tmp_path):
    (tmp_path / "sub").mkdir()
    target = write(tmp_path / "sub" / "child.yaml", YAML_TEXT)
    caller = tmp_path / "parent.json"
    workflow, source = await FileWorkflowLoader().load("sub/child.yaml", relative_to=str(caller))
    assert workflow.name == "loaded"
    assert source == str(target.resolve())


async def test_file_loader_resolves_refs_from_a_sibling_folder(tmp_path):
    target = write(tmp_path / "child.json", json.dumps(DOC))
    (tmp_path / "flows").mkdir()
    caller = tmp_path / "flows" / "parent.json"
    _, source = await FileWorkflowLoader().load("../child.json", relative_to=str(caller))
    assert source == str(target.resolve())


async def test_file_loader_without_a_caller_uses_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path / "here.json", json.dumps(DOC))
    monkeypatch.chdir(tmp_path)
    _, source = await FileWorkflowLoader().load("here.json", relative_to=None)
    assert source == str((tmp_path / "here.json").resolve())


async def test_file_loader_reports_a_missing_sub_workflow(tmp_path):
    with pytest.raises(NotFound):
        await FileWorkflowLoader().load("gone.json", relative_to=str(tmp_path / "p.json"))
