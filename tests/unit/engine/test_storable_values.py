"""What a node hands on must be storable JSON data: outputs that are not fail their node
(``output_invalid``, naming the port and the path), progress that is not is left out, and
error messages are made storable."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2.utils import Namespace
from pydantic import BaseModel

from tav.core.errors import NodeError
from tav.core.events import NodeProgress
from tav.core.results import ExecutionResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.values import MAX_DEPTH, problem, storable_text
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.context import NodeContext
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, run, workflow

RETRY = {"max_attempts": 3, "backoff_s": 0, "jitter": False}


class Emit(Node):
    """Outputs what its input names (a value Python can make but JSON cannot hold)."""

    spec = NodeSpec(type="probe.emit", category="testing")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": VALUES[input]}


class Wrap(Node):
    """Outputs its input one level deeper."""

    spec = NodeSpec(type="probe.wrap", category="testing")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": [input]}


class Stream(Node):
    """Reports a token that is half of a surrogate pair, then one that is fine."""

    spec = NodeSpec(type="probe.stream", category="testing")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        ctx.progress({"token": "\ud83d"})
        ctx.progress({"token": "fine"})
        return {"output": "done"}


class Complain(Node):
    """Fails with a message that quotes a lone surrogate."""

    spec = NodeSpec(type="probe.complain", category="testing")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        raise NodeError("the service said '\ud800'", type="service_error")


VALUES: dict[str, Any] = {
    "namespace": {"kept": Namespace(a=1)},
    "surrogate": {"body": {"x": "\ud800"}},
    "bytes": b"raw",
    "nan": [1.0, float("nan")],
    "int key": {"rows": {1: "one"}},
}


@pytest.fixture
def executor(registry: NodeRegistry, bus: InMemoryBus) -> Executor:
    for node_type in (Emit, Wrap, Stream, Complain):
        registry.register(node_type)
    return Executor(registry, bus=bus)


@pytest.mark.parametrize(
    ("name", "where", "what"),
    [
        ("namespace", "output.kept", "a value of type Namespace is not JSON data"),
        ("surrogate", "output.body.x", "text contains a lone surrogate (U+D800)"),
        ("bytes", "output", "a value of type bytes is not JSON data"),
        ("nan", "output.1", "nan is not a JSON number"),
        ("int key", "output.rows", "the key 1 is of type int, not text"),
    ],
)
async def test_an_output_that_is_not_json_data_fails_its_node_once(
    executor: Executor, name: str, where: str, what: str
) -> None:
    result = await _after_start(executor, node("emit", "probe.emit", retry=RETRY), name)

    emitted = result.nodes["emit"]
    assert emitted.status is NodeStatus.FAILED
    assert emitted.attempts == 1  # not worth retrying
    assert emitted.outputs == {}
    assert emitted.error is not None
    assert emitted.error.type == "output_invalid"
    assert emitted.error.message.startswith(f"output is not storable JSON data: {what}")
    assert emitted.error.message.endswith(f", at {where}")
    assert result.error is not None
    assert result.error.message.startswith("node 'emit' failed: output is not storable")


async def test_a_value_passed_on_is_checked_for_depth_where_it_lands(executor: Executor) -> None:
    """Each wrap puts the value it got one level deeper: the node whose output passes the
    limit fails, though the value it wraps was checked (and remembered) before."""
    count = MAX_DEPTH + 1
    ids = [f"w{i}" for i in range(count)]
    links = tuple(f"{a} -> {b}" for a, b in zip(["start", *ids], ids, strict=False))
    wraps = [node(i, "probe.wrap") for i in ids]
    result = await run(executor, workflow(node("start", "trigger.manual"), *wraps, links=links))

    # The trigger's output is 1 (its port at depth 1): wrap n puts it under n lists.
    failed = [i for i in ids if result.nodes[i].status is NodeStatus.FAILED]
    assert failed == [f"w{MAX_DEPTH - 1}"]
    error = result.nodes[failed[0]].error
    assert error is not None
    assert f"nested deeper than {MAX_DEPTH} levels" in error.message
    assert problem(result.nodes[f"w{MAX_DEPTH - 2}"].outputs) is None


async def test_progress_that_cannot_be_stored_is_left_out(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await _after_start(executor, node("stream", "probe.stream"))

    assert result.status is ExecutionStatus.SUCCEEDED
    progress = [e for e in bus.events(result.execution_id) if isinstance(e, NodeProgress)]
    assert [e.data for e in progress] == [{"token": "fine"}]


async def test_an_error_message_is_made_storable(executor: Executor) -> None:
    complain = node("complain", "probe.complain", on_error="branch")
    after = node("after", "core.noop")
    wf = workflow(
        node("start", "trigger.manual"),
        complain,
        after,
        links=("start -> complain", "complain:error -> after"),
    )
    result = await run(executor, wf)

    error = result.nodes["complain"].error
    assert error is not None
    assert error.message == "the service said '\ufffd'"
    assert problem(result.nodes["after"].outputs) is None
    assert storable_text("a\udc00b") == "a\ufffdb"


async def _after_start(
    executor: Executor, second: dict[str, Any], trigger: Any = None
) -> ExecutionResult:
    wf = workflow(node("start", "trigger.manual"), second, links=(f"start -> {second['id']}",))
    return await run(executor, wf, trigger)
