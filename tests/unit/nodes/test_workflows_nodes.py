"""Workflows calling workflows: core.subworkflow and core.map, with real files in tmp_path."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tav.app.headless import run_workflow
from tav.core.events import Event, ExecutionCompleted, ExecutionStarted, NodeFailed
from tav.core.results import ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import MAX_DEPTH
from tests.fakes.slow_http import SlowHttp, serving
from tests.helpers import document, node, workflow


class RecordingBus(InMemoryBus):
    """Keeps every event of every execution, sub-workflows included, in publishing order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, Event]] = []

    def publish(self, event: Event) -> None:
        self.log.append((time.perf_counter(), event))
        super().publish(event)


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


def save(path: Path, *nodes: dict[str, Any], links: tuple[str, ...] = ()) -> Path:
    """Write a workflow file named after its file stem."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document(*nodes, links=links, name=path.stem)))
    return path


def caller(path: Path, type_: str, params: dict[str, Any]) -> Path:
    """A workflow that runs one core.subworkflow / core.map node on its trigger payload."""
    return save(
        path,
        node("start", "trigger.manual"),
        node("call", type_, params=params),
        node("out", "core.output"),
        links=("start -> call", "call -> out"),
    )


def doubler(path: Path) -> Path:
    return save(
        path,
        node("start", "trigger.manual"),
        node("out", "core.output", params={"value": {"n": "{{ trigger.n * 2 }}"}}),
        links=("start -> out",),
    )


def call(result: ExecutionResult) -> NodeResult:
    return result.nodes["call"]


def call_error(result: ExecutionResult) -> tuple[str, str]:
    error = call(result).error
    assert error is not None
    return error.type, error.message


# -- core.subworkflow -------------------------------------------------------------------


async def test_a_child_file_runs_by_a_path_relative_to_its_caller(executor, tmp_path, monkeypatch):
    doubler(tmp_path / "lib" / "double.json")
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "lib/double.json"})
    monkeypatch.chdir(tmp_path / "lib")  # relative to the caller's file, not the cwd

    result = await run_workflow(parent, {"n": 21}, executor=executor)

    assert result.status is ExecutionStatus.SUCCEEDED
    assert call(result).outputs == {"output": {"n": 42}}
    assert result.output == {"n": 42}


async def test_the_child_input_can_be_a_template(executor, tmp_path):
    doubler(tmp_path / "double.json")
    parent = caller(
        tmp_path / "parent.json",
        "core.subworkflow",
        {"workflow": "double.json", "input": {"n": "{{ input.count + 1 }}"}},
    )

    result = await run_workflow(parent, {"count": 4}, executor=executor)

    assert result.output == {"n": 10}


async def test_a_child_reads_its_own_children_relative_to_itself(executor, tmp_path):
    doubler(tmp_path / "lib" / "double.json")
    caller(tmp_path / "lib" / "middle.json", "core.subworkflow", {"workflow": "double.json"})
    parent = caller(tmp_path / "top.json", "core.subworkflow", {"workflow": "lib/middle.json"})

    result = await run_workflow(parent, {"n": 5}, executor=executor)

    assert result.output == {"n": 10}


async def test_a_child_may_be_a_yaml_file(executor, tmp_path):
    (tmp_path / "double.yaml").write_text(
        "schema: 1\n"
        "name: double\n"
        "nodes:\n"
        "  - {id: start, type: trigger.manual}\n"
        "  - {id: out, type: core.output, params: {value: '{{ trigger * 2 }}'}}\n"
        "edges:\n"
        "  - {from: start, to: out}\n"
    )
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "double.yaml"})

    result = await run_workflow(parent, 4, executor=executor)

    assert result.output == 8


async def test_a_compiled_plan_with_a_source_resolves_children_the_same_way(executor, tmp_path):
    doubler(tmp_path / "double.json")
    wf = workflow(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": "double.json"}),
        links=("start -> call",),
    )
    plan = executor.compile(wf, source=str(tmp_path / "parent.json"))

    result = await executor.execute(plan, {"n": 1})

    assert call(result).outputs == {"output": {"n": 2}}


async def test_the_child_runs_as_an_execution_of_its_own(executor, bus, tmp_path):
    doubler(tmp_path / "double.json")
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "double.json"})

    result = await run_workflow(parent, {"n": 1}, executor=executor)

    started = [e for _, e in bus.log if isinstance(e, ExecutionStarted)]
    assert [(e.workflow, e.parent_execution_id) for e in started] == [
        ("parent", None),
        ("double", result.execution_id),
    ]


async def test_a_child_without_output_node_gives_none(executor, tmp_path):
    save(tmp_path / "quiet.json", node("start", "trigger.manual"))
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "quiet.json"})

    result = await run_workflow(parent, {"n": 1}, executor=executor)

    assert result.status is ExecutionStatus.SUCCEEDED
    assert call(result).outputs == {"output": None}


async def test_a_failing_child_fails_the_node_naming_the_child(executor, tmp_path):
    save(
        tmp_path / "broken_child.json",
        node("start", "trigger.manual"),
        node("boom", "core.fail", params={"message": "cannot handle {{ trigger.n }}"}),
        links=("start -> boom",),
    )
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "broken_child.json"})

    result = await run_workflow(parent, {"n": 3}, executor=executor)

    assert result.status is ExecutionStatus.FAILED
    kind, message = call_error(result)
    assert kind == "subworkflow_failed"
    assert "'broken_child'" in message
    assert "cannot handle 3" in message
    assert call(result).attempts == 1


async def test_an_invalid_child_fails_the_node_as_subworkflow_invalid(executor, tmp_path):
    save(tmp_path / "invalid.json", node("start", "trigger.manul"))
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "invalid.json"})

    result = await run_workflow(parent, {}, executor=executor)

    kind, message = call_error(result)
    assert kind == "subworkflow_invalid"
    assert "invalid.json" in message
    assert "unknown node type 'trigger.manul'" in message


async def test_a_child_file_that_is_not_json_is_invalid(executor, tmp_path):
    (tmp_path / "garbage.json").write_text("{nodes: ")
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "garbage.json"})

    result = await run_workflow(parent, {}, executor=executor)

    kind, message = call_error(result)
    assert kind == "subworkflow_invalid"
    assert "not valid JSON" in message


async def test_a_workflow_calling_itself_stops_at_the_depth_limit(executor, bus, tmp_path):
    looping = caller(tmp_path / "loop.json", "core.subworkflow", {"workflow": "loop.json"})

    result = await run_workflow(looping, {}, executor=executor)

    assert result.status is ExecutionStatus.FAILED
    kind, message = call_error(result)
    assert kind == "subworkflow_failed"
    assert "nested deeper than" in message
    deepest = [
        e for _, e in bus.log if isinstance(e, NodeFailed) and e.error.type == "subworkflow_depth"
    ]
    assert len(deepest) == 1
    assert sum(isinstance(e, ExecutionStarted) for _, e in bus.log) == MAX_DEPTH


async def test_a_missing_child_file_fails_the_node_cleanly(executor, tmp_path):
    parent = caller(tmp_path / "parent.json", "core.subworkflow", {"workflow": "nowhere.json"})

    result = await run_workflow(parent, {}, executor=executor)

    assert result.status is ExecutionStatus.FAILED
    assert call(result).attempts == 1
    _, message = call_error(result)
    assert "workflow file not found" in message
    assert "nowhere.json" in message


async def test_a_missing_child_file_is_a_user_error_that_is_not_retried(executor, tmp_path):
    parent = save(
        tmp_path / "parent.json",
        node("start", "trigger.manual"),
        node(
            "call",
            "core.subworkflow",
            params={"workflow": "nowhere.json"},
            retry={"max_attempts": 3, "backoff_s": 0},
        ),
        links=("start -> call",),
    )

    result = await run_workflow(parent, {}, executor=executor)

    kind, _ = call_error(result)
    assert kind == "subworkflow_not_found"
    assert call(result).attempts == 1


# -- core.map ---------------------------------------------------------------------------


def echo_after(path: Path, seconds: str | float) -> Path:
    """A child that waits, then outputs its trigger payload."""
    return save(
        path,
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": seconds}),
        node("out", "core.output", params={"value": "{{ trigger }}"}),
        links=("start -> wait", "wait -> out"),
    )


async def test_map_runs_the_child_per_item_and_keeps_item_order(executor, tmp_path):
    echo_after(tmp_path / "item.json", "{{ trigger.item.wait }}")
    parent = caller(
        tmp_path / "parent.json",
        "core.map",
        {"items": "{{ trigger.things }}", "workflow": "item.json", "concurrency": 4},
    )
    things = [{"wait": 0.09}, {"wait": 0.06}, {"wait": 0.03}, {"wait": 0}]

    result = await run_workflow(parent, {"things": things}, executor=executor)

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == [{"item": item, "index": i} for i, item in enumerate(things)]


async def test_map_with_separate_executions_respects_its_concurrency_limit(executor, bus, tmp_path):
    echo_after(tmp_path / "item.json", 0.2)
    parent = caller(
        tmp_path / "parent.json",
        "core.map",
        {
            "items": list(range(6)),
            "workflow": "item.json",
            "concurrency": 3,
            "separate_executions": True,
        },
    )

    began = time.perf_counter()
    result = await run_workflow(parent, None, executor=executor)
    elapsed = time.perf_counter() - began

    assert result.output == [{"item": i, "index": i} for i in range(6)]
    assert 0.38 <= elapsed < 0.8
    assert most_children_at_once(bus.log, parent=result.execution_id) == 3


def most_children_at_once(log: list[tuple[float, Event]], *, parent: str) -> int:
    children = {
        e.execution_id
        for _, e in log
        if isinstance(e, ExecutionStarted) and e.parent_execution_id == parent
    }
    running = most = 0
    for _, event in log:
        if event.execution_id in children and isinstance(event, ExecutionStarted):
            running += 1
            most = max(most, running)
        elif event.execution_id in children and isinstance(event, ExecutionCompleted):
            running -= 1
    return most


async def test_map_of_no_items_outputs_an_empty_list(executor, tmp_path):
    parent = caller(tmp_path / "parent.json", "core.map", {"items": [], "workflow": "x.json"})

    result = await run_workflow(parent, None, executor=executor)

    assert result.output == []


async def test_map_items_must_render_to_a_list(executor, tmp_path):
    echo_after(tmp_path / "item.json", 0)
    parent = caller(
        tmp_path / "parent.json", "core.map", {"items": "{{ trigger }}", "workflow": "item.json"}
    )

    result = await run_workflow(parent, {"not": "a list"}, executor=executor)

    kind, message = call_error(result)
    assert kind == "params_invalid"
    assert "params.items" in message


async def test_a_failing_item_fails_the_map_naming_its_index(executor, tmp_path):
    save(
        tmp_path / "picky.json",
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.item == 'bad' }}"}),
        node("reject", "core.fail", params={"message": "refused {{ trigger.item }}"}),
        node("out", "core.output", params={"value": "{{ trigger.item }}"}),
        links=("start -> check", "check:true -> reject", "check:false -> out"),
    )
    parent = caller(
        tmp_path / "parent.json",
        "core.map",
        {"items": ["ok", "fine", "bad", "good"], "workflow": "picky.json", "concurrency": 2},
    )

    result = await run_workflow(parent, None, executor=executor)

    assert result.status is ExecutionStatus.FAILED
    kind, message = call_error(result)
    assert kind == "subworkflow_failed"
    assert message.startswith("item 2: ")
    assert "refused bad" in message


def fetcher(path: Path) -> Path:
    """A child that GETs ``trigger.item`` (a URL) and outputs the answer's body."""
    return save(
        path,
        node("start", "trigger.manual"),
        node("get", "core.http_request", params={"url": "{{ trigger.item }}"}),
        node("out", "core.output", params={"value": "{{ nodes.get.output.body }}"}),
        links=("start -> get", "get -> out"),
    )


async def test_map_runs_inline_by_default_leaving_no_execution_or_event_of_its_runs(
    executor, bus, store, tmp_path
):
    echo_after(tmp_path / "item.json", 0)
    parent = caller(
        tmp_path / "parent.json", "core.map", {"items": ["a", "b", "c"], "workflow": "item.json"}
    )

    result = await run_workflow(parent, None, executor=executor)

    assert result.status is ExecutionStatus.SUCCEEDED
    assert call(result).outputs == {
        "output": [{"item": x, "index": i} for i, x in enumerate("abc")]
    }
    assert {e.execution_id for _, e in bus.log} == {result.execution_id}
    assert list(store.executions) == [result.execution_id]
    assert store.executions[result.execution_id].nodes["call"].outputs == call(result).outputs


async def test_map_inline_runs_at_most_concurrency_at_once(executor, tmp_path):
    fetcher(tmp_path / "item.json")
    async with serving(SlowHttp(delay_s=0.1)) as upstream:
        urls = [f"{upstream.url}/item/{i}" for i in range(9)]
        parent = caller(
            tmp_path / "parent.json",
            "core.map",
            {"items": urls, "workflow": "item.json", "concurrency": 3},
        )

        began = time.perf_counter()
        result = await run_workflow(parent, None, executor=executor)
        elapsed = time.perf_counter() - began

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert [body["path"] for body in result.output] == [f"/item/{i}" for i in range(9)]
    assert upstream.most_held == 3
    assert 0.29 <= elapsed < 2.0


async def test_map_with_separate_executions_stores_each_run_linked_to_its_parent(
    executor, store, tmp_path
):
    echo_after(tmp_path / "item.json", 0)
    parent = caller(
        tmp_path / "parent.json",
        "core.map",
        {"items": [1, 2], "workflow": "item.json", "separate_executions": True},
    )

    result = await run_workflow(parent, None, executor=executor)

    assert result.output == [{"item": 1, "index": 0}, {"item": 2, "index": 1}]
    children = [e for e in store.executions.values() if e.execution_id != result.execution_id]
    assert [c.parent_execution_id for c in children] == [result.execution_id] * 2
    assert sorted(c.output["item"] for c in children) == [1, 2]


def picky(path: Path) -> Path:
    """A child that refuses the item 'bad' and outputs any other."""
    return save(
        path,
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.item == 'bad' }}"}),
        node("reject", "core.fail", params={"message": "refused {{ trigger.item }}"}),
        node("out", "core.output", params={"value": "{{ trigger.item }}"}),
        links=("start -> check", "check:true -> reject", "check:false -> out"),
    )


@pytest.mark.parametrize("separate", [False, True])
async def test_a_failing_item_fails_the_map_and_cancels_the_runs_still_going(
    executor, tmp_path, separate
):
    save(
        tmp_path / "item.json",
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.item == 'bad' }}"}),
        node("reject", "core.fail", params={"message": "refused {{ trigger.item }}"}),
        node("slow", "core.delay", params={"seconds": 30}),
        links=("start -> check", "check:true -> reject", "check:false -> slow"),
    )
    parent = caller(
        tmp_path / "parent.json",
        "core.map",
        {
            "items": ["slow", "slow", "bad", "never"],
            "workflow": "item.json",
            "concurrency": 3,
            "separate_executions": separate,
        },
    )

    began = time.perf_counter()
    result = await run_workflow(parent, None, executor=executor)

    assert time.perf_counter() - began < 5
    assert result.status is ExecutionStatus.FAILED
    kind, message = call_error(result)
    assert kind == "subworkflow_failed"
    assert message.startswith("item 2: sub-workflow 'item' failed: ")
    assert "refused bad" in message


async def test_with_on_item_error_continue_every_item_runs_and_errors_go_out_apart(
    executor, tmp_path
):
    picky(tmp_path / "picky.json")
    parent = save(
        tmp_path / "parent.json",
        node("start", "trigger.manual"),
        node(
            "call",
            "core.map",
            params={
                "items": ["ok", "bad", "fine", "bad"],
                "workflow": "picky.json",
                "on_item_error": "continue",
            },
        ),
        node("failures", "core.output", params={"value": "{{ input | length }}"}),
        links=("start -> call", "call:errors -> failures"),
    )

    result = await run_workflow(parent, None, executor=executor)

    assert result.status is ExecutionStatus.SUCCEEDED
    outputs = call(result).outputs
    assert outputs["output"] == ["ok", None, "fine", None]
    assert [(e["index"], e["item"], e["type"]) for e in outputs["errors"]] == [
        (1, "bad", "subworkflow_failed"),
        (3, "bad", "subworkflow_failed"),
    ]
    assert all("refused bad" in e["message"] for e in outputs["errors"])
    assert result.output == 2


async def test_with_on_item_error_continue_and_no_failure_the_errors_port_stays_inactive(
    executor, tmp_path
):
    picky(tmp_path / "picky.json")
    parent = save(
        tmp_path / "parent.json",
        node("start", "trigger.manual"),
        node(
            "call",
            "core.map",
            params={"items": ["ok"], "workflow": "picky.json", "on_item_error": "continue"},
        ),
        node("failures", "core.output"),
        links=("start -> call", "call:errors -> failures"),
    )

    result = await run_workflow(parent, None, executor=executor)

    assert call(result).outputs == {"output": ["ok"]}
    assert result.nodes["failures"].status.value == "skipped"


@pytest.mark.parametrize("separate", [False, True])
async def test_cancelling_the_parent_cancels_its_map_runs_promptly(
    executor, store, tmp_path, separate
):
    echo_after(tmp_path / "item.json", 30)
    parent = caller(
        tmp_path / "parent.json",
        "core.map",
        {"items": [1, 2, 3], "workflow": "item.json", "separate_executions": separate},
    )
    plan = await executor.load_plan(str(parent), relative_to=None)
    handle = executor.start(plan, None)
    await asyncio.sleep(0.2)

    began = time.perf_counter()
    handle.cancel()
    result = await handle.wait()

    assert time.perf_counter() - began < 2
    assert result.status is ExecutionStatus.CANCELLED
    assert call(result).status.value == "cancelled"
    children = [e for e in store.executions.values() if e.execution_id != result.execution_id]
    assert len(children) == (3 if separate else 0)
    assert all(c.status is ExecutionStatus.CANCELLED for c in children)


async def test_the_map_loads_its_workflow_once_for_all_items(executor, tmp_path, monkeypatch):
    echo_after(tmp_path / "item.json", 0)
    parent = caller(
        tmp_path / "parent.json", "core.map", {"items": list(range(5)), "workflow": "item.json"}
    )
    loads: list[str] = []
    load = executor.loader.load

    async def counted(ref: str, *, relative_to: str | None) -> Any:
        loads.append(ref)
        return await load(ref, relative_to=relative_to)

    monkeypatch.setattr(executor.loader, "load", counted)

    result = await run_workflow(parent, None, executor=executor)

    assert len(result.output) == 5
    assert loads == ["item.json"]
