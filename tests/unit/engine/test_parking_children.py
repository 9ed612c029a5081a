"""Waits inside sub-workflows, below the server: a child execution that parks parks its
parent's node on a wait for it (``tav.core.children``), core.map keeps what its other
items came to, and the node settles with the children's ends once the host resumes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tav.core.children import ChildEnd, ChildWait, settle
from tav.core.results import ErrorInfo
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.waits import WaitMode, WaitOutcome
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor, Resume, RunOptions
from tav.engine.memory import MemoryStore, MemoryWaits
from tav.nodes.host import HostServices
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, workflow


@pytest.fixture
def waits() -> MemoryWaits:
    return MemoryWaits()


@pytest.fixture
def executor(registry: NodeRegistry, store: MemoryStore, waits: MemoryWaits) -> Executor:
    return Executor(registry, bus=InMemoryBus(), store=store, services=HostServices(waits=waits))


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def asking_child(tmp_path: Path) -> str:
    """Waits for an approval when its item is 1; else doubles it."""
    return write(
        tmp_path / "child.json",
        {
            "schema": 1,
            "name": "child",
            "nodes": [
                {"id": "s", "type": "trigger.manual"},
                {"id": "c", "type": "core.if", "params": {"condition": "{{ trigger.item == 1 }}"}},
                {"id": "w", "type": "core.wait", "params": {"mode": "approval"}},
                {"id": "o", "type": "core.output", "params": {"value": "{{ trigger.item * 2 }}"}},
            ],
            "edges": [
                {"from": "s", "to": "c"},
                {"from": "c:true", "to": "w"},
                {"from": "c:false", "to": "o"},
            ],
        },
    )


async def test_a_sub_workflow_that_waits_parks_the_node_that_called_it(
    executor: Executor, waits: MemoryWaits, store: MemoryStore, tmp_path: Path
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": asking_child(tmp_path)}),
        node("after", "core.noop"),
        links=("start -> call", "call -> after"),
    )
    result = await executor.execute(executor.compile(wf), {"item": 1})
    assert result.status is ExecutionStatus.WAITING
    assert result.nodes["call"].status is NodeStatus.WAITING
    request = waits.opened[(result.execution_id, "call")]
    assert request.mode is WaitMode.EXECUTION
    assert request.children is not None
    (child_id,) = request.children.executions
    assert store.executions[child_id].status is ExecutionStatus.WAITING
    assert store.executions[child_id].parent_execution_id == result.execution_id
    assert (child_id, "w") in waits.opened
    document, given = waits.detached[child_id]
    assert (document["name"], given) == ("child", {"item": 1})


async def test_a_map_whose_item_waits_keeps_the_others_and_settles_in_item_order(
    executor: Executor, waits: MemoryWaits, tmp_path: Path
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("each", "core.map", params={"items": [0, 1, 2], "workflow": asking_child(tmp_path)}),
        links=("start -> each",),
    )
    plan = executor.compile(wf)
    parked = await executor.execute(plan, None)
    assert parked.status is ExecutionStatus.WAITING
    request = waits.opened[(parked.execution_id, "each")]
    wait = request.children
    assert wait is not None
    assert wait.many
    assert wait.results == [0, None, 4]  # the items that did not wait, not run again
    (child_id,) = wait.executions
    assert wait.executions[child_id] == 1

    outputs, error = settle(wait, {child_id: ChildEnd(status="succeeded", output="yes")})
    assert error is None
    resume = Resume(
        results=parked.nodes,
        last_seq=10,
        started_at=parked.started_at,
        settles={"each": WaitOutcome(outputs=outputs)},
    )
    done = await executor.execute(
        plan, None, RunOptions(execution_id=parked.execution_id, resume=resume)
    )
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.nodes["each"].outputs == {"output": [0, "yes", 4]}


async def test_an_inline_map_run_cannot_wait_and_says_how_to_fix_it(
    executor: Executor, tmp_path: Path
) -> None:
    """The mapped workflow waits only in a sub-workflow of its own: its runs stay inline,
    and the wait is refused, naming `separate_executions`."""
    middle = write(
        tmp_path / "middle.json",
        {
            "schema": 1,
            "name": "middle",
            "nodes": [
                {"id": "s", "type": "trigger.manual"},
                {"id": "call", "type": "core.subworkflow", "params": {"workflow": "child.json"}},
            ],
            "edges": [{"from": "s", "to": "call"}],
        },
    )
    asking_child(tmp_path)
    wf = workflow(
        node("start", "trigger.manual"),
        node("each", "core.map", params={"items": [1], "workflow": middle}),
        links=("start -> each",),
    )
    result = await executor.execute(executor.compile(wf), None)
    assert result.status is ExecutionStatus.FAILED
    error = result.nodes["each"].error
    assert error is not None
    assert error.type == "subworkflow_failed"
    assert "a wait inside a run of core.map" in error.message
    assert "separate_executions" in error.message


def test_the_map_settles_as_it_would_have_without_waiting() -> None:
    wait = ChildWait(
        executions={"a": 1, "b": 3},
        workflow="child",
        many=True,
        results=[10, None, None, None],
        errors=[{"index": 2, "item": "x", "type": "boom", "message": "bad"}],
        items={1: "p", 3: "q"},
        on_item_error="continue",
    )
    failed = ChildEnd(status="failed", error=ErrorInfo(type="node_failed", message="no"))
    outputs, error = settle(wait, {"a": ChildEnd(status="succeeded", output=11), "b": failed})
    assert error is None
    assert outputs["output"] == [10, 11, None, None]
    assert [e["index"] for e in outputs["errors"]] == [2, 3]
    assert outputs["errors"][1] == {
        "index": 3,
        "item": "q",
        "type": "subworkflow_failed",
        "message": "sub-workflow 'child' failed: no",
    }
    stop = wait.model_copy(update={"on_item_error": "stop", "errors": []})
    _, error = settle(stop, {"a": ChildEnd(status="succeeded", output=11), "b": failed})
    assert error is not None
    assert error.type == "subworkflow_failed"
    assert error.message == "item 3: sub-workflow 'child' failed: no"
