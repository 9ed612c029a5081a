"""Data nodes: trigger.manual, core.set, core.output."""

from __future__ import annotations

import pytest

from tav.core.errors import WorkflowInvalid
from tav.core.states import ExecutionStatus
from tests.helpers import node, run, workflow

# -- trigger.manual ---------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{"a": 1}, [1, "two"], "text", 3, None])
async def test_manual_trigger_outputs_the_run_input(executor, payload):
    wf = workflow(node("start", "trigger.manual"))
    result = await run(executor, wf, payload)

    assert result.nodes["start"].outputs == {"output": payload}


def test_manual_trigger_has_no_input_port(executor):
    wf = workflow(node("a"), node("start", "trigger.manual"), links=("a -> start",))

    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(wf)

    assert "has no input port 'input'" in str(caught.value)


# -- core.set ---------------------------------------------------------------------------


def setter(values: object, **params: object):
    return workflow(
        node("start", "trigger.manual"),
        node("set", "core.set", params={"values": values, **params}),
        links=("start -> set",),
    )


async def test_set_renders_templates_recursively_keeping_native_types(executor):
    values = {
        "total": "{{ trigger.price * trigger.qty }}",
        "label": "{{ trigger.qty }} x {{ trigger.name }}",
        "nested": {"tags": ["{{ trigger.tags }}", "fixed", "{{ trigger.tags[0] }}"]},
        "plain": 5,
    }
    result = await run(
        executor, setter(values), {"price": 2.5, "qty": 4, "name": "pen", "tags": ["a", "b"]}
    )

    assert result.nodes["set"].outputs == {
        "output": {
            "total": 10.0,
            "label": "4 x pen",
            "nested": {"tags": [["a", "b"], "fixed", "a"]},
            "plain": 5,
        }
    }


async def test_set_replaces_its_input_by_default(executor):
    result = await run(executor, setter({"b": 2}), {"a": 1})

    assert result.nodes["set"].outputs == {"output": {"b": 2}}


async def test_set_keep_input_merges_values_into_the_input_object(executor):
    values = {"b": "{{ input.a + 1 }}", "a": "overwritten"}
    result = await run(executor, setter(values, keep_input=True), {"a": 1, "c": 3})

    assert result.nodes["set"].outputs == {"output": {"a": "overwritten", "c": 3, "b": 2}}


@pytest.mark.parametrize("payload", [[1, 2], "text", 3])
async def test_set_keep_input_fails_on_an_input_that_is_not_an_object(executor, payload):
    result = await run(executor, setter({"b": 2}, keep_input=True), payload)

    assert result.status is ExecutionStatus.FAILED
    error = result.nodes["set"].error
    assert error is not None
    assert error.type == "invalid_input"
    assert "needs an object" in error.message


def test_set_rejects_unknown_params(executor):
    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(setter({}, keep=True))

    assert [(p.node, p.field) for p in caught.value.problems] == [("set", "params.keep")]


# -- core.output ------------------------------------------------------------------------


async def test_output_defaults_to_its_input_and_becomes_the_workflow_output(executor):
    wf = workflow(
        node("start", "trigger.manual"), node("out", "core.output"), links=("start -> out",)
    )
    result = await run(executor, wf, {"x": [1, 2]})

    assert result.output == {"x": [1, 2]}
    assert result.nodes["out"].outputs == {"output": {"x": [1, 2]}}


async def test_output_value_is_a_template(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("shape", "core.set", params={"values": {"n": "{{ trigger.n }}"}}),
        node("out", "core.output", params={"value": "{{ [nodes.shape.output.n, input.n * 2] }}"}),
        links=("start -> shape", "shape -> out"),
    )
    result = await run(executor, wf, {"n": 3})

    assert result.output == [3, 6]


async def test_output_value_may_be_a_literal_even_none(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("out", "core.output", params={"value": None}),
        links=("start -> out",),
    )
    result = await run(executor, wf, {"x": 1})

    assert result.nodes["out"].outputs == {"output": None}
    assert result.output is None


async def test_a_workflow_without_output_node_has_no_output(executor):
    result = await run(executor, workflow(node("start", "trigger.manual")), {"x": 1})

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output is None


def test_a_workflow_has_at_most_one_output_node(executor):
    wf = workflow(node("one", "core.output"), node("two", "core.output"))

    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(wf)

    [problem] = caught.value.problems
    assert (problem.node, problem.field) == ("two", "type")
    assert "at most 1 core.output" in problem.message
