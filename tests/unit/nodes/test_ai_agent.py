"""ai.agent: params, tools described by the workflow catalog, and the tool-calling loop
against a scripted chat service, with tool workflows as real files (the stored-workflow
and provider side is covered by tests/api/test_ai_agent.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tav.core.events import NodeProgress
from tav.core.states import ExecutionStatus
from tav.core.workflow import Workflow
from tav.engine.executor import Executor
from tav.engine.loader import load_workflow_file
from tav.engine.plan import validate
from tav.nodes.ai import ToolCall, Usage, WorkflowDescription
from tav.nodes.builtin.ai.agent import tool_name
from tav.nodes.host import HostServices
from tests.helpers import document, node, run, workflow
from tests.unit.nodes.scripted_models import ScriptedModels, answer


class FileCatalog:
    """Describes workflow files by their absolute path, as the server does stored ones."""

    async def describe(self, ref: str) -> WorkflowDescription:
        wf: Workflow = await asyncio.to_thread(load_workflow_file, ref)
        return WorkflowDescription(
            id=ref, name=wf.name, description=wf.description, input_schema=wf.input_schema
        )


@pytest.fixture
def models() -> ScriptedModels:
    return ScriptedModels()


@pytest.fixture
def executor(registry, bus, store, models) -> Executor:
    services = HostServices(chat_models=models, workflows=FileCatalog())
    return Executor(registry, bus=bus, store=store, services=services)


ADD_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}


@pytest.fixture
def adder(tmp_path: Path) -> str:
    """A tool workflow: outputs ``{"sum": a + b}``."""
    doc = document(
        node("start", "trigger.manual"),
        node("out", "core.output", params={"value": {"sum": "{{ trigger.a + trigger.b }}"}}),
        links=("start -> out",),
        name="Add numbers",
        description="Adds a and b.",
        input_schema=ADD_SCHEMA,
    )
    path = tmp_path / "add.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def failing(tmp_path: Path) -> str:
    """A tool workflow that always fails."""
    doc = document(
        node("start", "trigger.manual"),
        node("boom", "core.fail", params={"message": "the warehouse is closed"}),
        links=("start -> boom",),
        name="Check stock",
    )
    path = tmp_path / "stock.json"
    path.write_text(json.dumps(doc))
    return str(path)


def agent(tools: list[Any], **params: Any) -> Workflow:
    return workflow(
        node("start", "trigger.manual"),
        node("agent", "ai.agent", params={"prompt": "{{ trigger.q }}", "tools": tools, **params}),
        links=("start -> agent",),
    )


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call_{name}_{len(arguments)}", name=name, arguments=arguments)


def usage(n: int) -> Usage:
    return Usage(input_tokens=n, output_tokens=1, total_tokens=n + 1)


def progress(bus, result) -> list[dict[str, Any]]:
    return [
        e.data
        for e in bus.events(result.execution_id)
        if isinstance(e, NodeProgress) and e.node_id == "agent"
    ]


# -- params -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tools": [{"workflow": "w", "name": "has space"}]}, "params.tools.0.name"),
        ({"tools": [{"name": "x"}]}, "params.tools.0.workflow"),
        ({"tools": [""]}, "params.tools.0.workflow"),
        ({"tools": [{"workflow": "w", "extra": 1}]}, "params.tools.0.extra"),
        (
            {"tools": [{"workflow": "a", "name": "t"}, {"workflow": "b", "name": "t"}]},
            "params.tools",
        ),
        ({"max_steps": 0}, "params.max_steps"),
    ],
)
def test_agent_params_are_checked(registry, params, field):
    problems = [str(p) for p in validate(workflow(node("a", "ai.agent", params=params)), registry)]
    assert [p.split(":")[0] for p in problems] == [f"node 'a', {field}"], problems


def test_tool_names_are_made_from_workflow_names():
    assert tool_name("Look up an order (v2)") == "look_up_an_order_v2"
    assert tool_name("---") == "workflow"
    assert len(tool_name("x" * 100)) == 64


# -- the loop ---------------------------------------------------------------------------


async def test_the_agent_runs_a_tool_workflow_and_answers(executor, models, bus, adder):
    models.answers += [
        answer(tool_calls=[call("add_numbers", a=2, b=3)], usage=usage(10)),
        answer(text="2 + 3 = 5", usage=usage(20)),
    ]
    result = await run(executor, agent([adder], system="Use the tools."), {"q": "2 + 3?"})

    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["agent"].error
    assert result.nodes["agent"].outputs["output"] == {
        "answer": "2 + 3 = 5",
        "steps": [{"tool": "add_numbers", "arguments": {"a": 2, "b": 3}, "output": {"sum": 5}}],
        "usage": {"input_tokens": 30, "output_tokens": 2, "total_tokens": 32},
        "provider": "openai",
        "model": "m",
    }
    first, second = models.requests
    assert [t.model_dump() for t in first.tools] == [
        {"name": "add_numbers", "description": "Adds a and b.", "parameters": ADD_SCHEMA}
    ]
    assert first.messages == [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "2 + 3?"},
    ]
    assert second.messages[2:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_add_numbers_2", "name": "add_numbers", "arguments": {"a": 2, "b": 3}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_add_numbers_2", "content": '{"sum": 5}'},
    ]
    assert progress(bus, result) == [
        {"step": 1, "tool": "add_numbers", "arguments": {"a": 2, "b": 3}},
        {"step": 1, "tool": "add_numbers", "output": {"sum": 5}},
    ]


async def test_tool_names_and_descriptions_can_be_given(executor, models, adder, failing):
    models.answers.append(answer(text="ok"))
    tools = [{"workflow": adder, "name": "plus", "description": "Sums two numbers."}, failing]
    await run(executor, agent(tools), {"q": "?"})

    specs = {t.name: t for t in models.requests[0].tools}
    assert specs["plus"].description == "Sums two numbers."
    assert specs["check_stock"].description == "Runs 'Check stock'."
    assert specs["check_stock"].parameters == {"type": "object"}


async def test_a_failing_tool_is_reported_to_the_model_not_failed(executor, models, failing):
    models.answers += [
        answer(tool_calls=[call("check_stock", sku="A1")]),
        answer(text="The warehouse is closed today."),
    ]
    result = await run(executor, agent([failing]), {"q": "Is A1 in stock?"})

    assert result.status is ExecutionStatus.SUCCEEDED
    (step,) = result.nodes["agent"].outputs["output"]["steps"]
    assert step["tool"] == "check_stock"
    assert "output" not in step
    assert "the warehouse is closed" in step["error"]
    tool_message = models.requests[1].messages[-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"].startswith("Error: ")
    assert "the warehouse is closed" in tool_message["content"]


async def test_calls_in_one_answer_all_run_and_an_unknown_tool_is_an_error(
    executor, models, bus, adder
):
    models.answers += [
        answer(tool_calls=[call("add_numbers", a=1, b=1), call("delete_everything")]),
        answer(text="done"),
    ]
    result = await run(executor, agent([adder]), {"q": "?"})

    steps = result.nodes["agent"].outputs["output"]["steps"]
    assert steps[0]["output"] == {"sum": 2}
    assert steps[1]["error"] == "there is no tool named 'delete_everything' (tools: add_numbers)"
    assert [m["role"] for m in models.requests[1].messages][-3:] == ["assistant", "tool", "tool"]
    assert {(p["step"], p["tool"]) for p in progress(bus, result)} == {
        (1, "add_numbers"),
        (2, "delete_everything"),
    }


async def test_still_calling_tools_after_max_steps_fails_the_node(executor, models, adder):
    models.answers += [answer(tool_calls=[call("add_numbers", a=i, b=0)]) for i in range(3)]
    result = await run(executor, agent([adder], max_steps=2), {"q": "?"})

    assert result.status is ExecutionStatus.FAILED
    error = result.nodes["agent"].error
    assert error is not None
    assert error.type == "agent_max_steps"
    assert not error.retryable
    assert "after 2 round(s)" in error.message
    assert "add_numbers, add_numbers" in error.message
    assert len(models.requests) == 3


async def test_a_tool_workflow_that_does_not_exist_fails_the_node(executor, models, tmp_path):
    result = await run(executor, agent([str(tmp_path / "missing.json")]), {"q": "?"})

    error = result.nodes["agent"].error
    assert error is not None
    assert error.type == "tool_not_found"
    assert not error.retryable
    assert models.requests == []


async def test_long_tool_results_are_cut_in_progress_events(executor, models, bus, tmp_path):
    doc = document(
        node("start", "trigger.manual"),
        node("out", "core.output", params={"value": "{{ 'x' * 2000 }}"}),
        links=("start -> out",),
        name="Long",
    )
    (tmp_path / "long.json").write_text(json.dumps(doc))
    models.answers += [answer(tool_calls=[call("long")]), answer(text="ok")]
    result = await run(executor, agent([str(tmp_path / "long.json")]), {"q": "?"})

    assert result.nodes["agent"].outputs["output"]["steps"][0]["output"] == "x" * 2000
    shown = progress(bus, result)[1]["output"]
    assert len(shown) == 501
    assert shown.endswith("…")


async def test_a_tool_needing_approval_fails_at_once_on_a_host_without_waits(
    executor, models, adder
):
    result = await run(executor, agent([{"workflow": adder, "approval": True}]), {"q": "?"})
    assert result.status is ExecutionStatus.FAILED
    error = result.nodes["agent"].error
    assert error is not None
    assert error.type == "service_unavailable"
    assert "'add_numbers' needs a person's approval" in error.message
    assert models.requests == []  # the model was not asked
