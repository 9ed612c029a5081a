"""Reactive scheduling, skip propagation, merge, pinned and reused nodes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tav.core.results import NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor, RunOptions
from tests.helpers import node, run, statuses, workflow


def delay(node_id: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return node(node_id, "core.delay", params={"seconds": seconds}, **fields)


def set_values(node_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return node(node_id, "core.set", params={"values": values})


def started_nodes(bus: InMemoryBus, execution_id: str) -> set[str]:
    return {e.node_id for e in bus.events(execution_id) if e.type == "node.started"}


# -- parallelism ----------------------------------------------------------------------


async def test_parallel_branches_overlap_in_time(executor: Executor) -> None:
    branches = [f"wait{i}" for i in range(4)]
    wf = workflow(
        node("start", "trigger.manual"),
        *(delay(b, 0.5) for b in branches),
        links=tuple(f"start -> {b}" for b in branches),
    )
    clock = time.perf_counter()
    result = await run(executor, wf)
    elapsed = time.perf_counter() - clock

    assert result.status is ExecutionStatus.SUCCEEDED
    assert elapsed < 0.9
    waits = [result.nodes[b] for b in branches]
    assert all(w.started_at and w.finished_at for w in waits)
    latest_start = max(w.started_at for w in waits if w.started_at)
    earliest_finish = min(w.finished_at for w in waits if w.finished_at)
    assert latest_start < earliest_finish
    assert all(w.duration_ms is not None and w.duration_ms >= 490 for w in waits)


async def test_a_fast_branch_moves_on_before_a_slow_sibling_finishes(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        delay("fast", 0.02),
        node("fast2"),
        node("fast3"),
        delay("slow", 0.3),
        links=("start -> fast", "fast -> fast2", "fast2 -> fast3", "start -> slow"),
    )
    result = await run(executor, wf)

    slow_finished = result.nodes["slow"].finished_at
    assert slow_finished is not None
    for node_id in ("fast2", "fast3"):
        started, finished = result.nodes[node_id].started_at, result.nodes[node_id].finished_at
        assert started is not None
        assert finished is not None
        assert finished < slow_finished
    assert result.status is ExecutionStatus.SUCCEEDED


async def test_a_node_waits_for_every_upstream_node(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        delay("fast", 0.01),
        delay("slow", 0.1),
        node("join", "core.merge"),
        links=("start -> fast", "start -> slow", "fast -> join", "slow -> join"),
    )
    result = await run(executor, wf, "x")

    join, slow = result.nodes["join"], result.nodes["slow"]
    assert join.started_at is not None
    assert slow.finished_at is not None
    assert join.started_at >= slow.finished_at
    assert join.outputs == {"output": ["x", "x"]}


async def test_values_flow_along_edges_and_into_templates(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        set_values("a", {"n": "{{ trigger.n + 1 }}"}),
        set_values("b", {"n": "{{ input.n * 10 }}", "a": "{{ nodes.a.output.n }}"}),
        node("out", "core.output"),
        links=("start -> a", "a -> b", "b -> out"),
    )
    result = await run(executor, wf, {"n": 1})

    assert result.output == {"n": 20, "a": 2}


# -- skip propagation -----------------------------------------------------------------


def if_workflow(*extra: dict[str, Any], links: tuple[str, ...]) -> Any:
    return workflow(
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.go }}"}),
        *extra,
        links=("start -> check", *links),
    )


async def test_a_branch_not_taken_skips_its_whole_chain(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = if_workflow(
        node("a"),
        node("b"),
        node("c", "core.fail", params={"message": "never runs"}),
        node("other"),
        links=("check:true -> a", "a -> b", "b -> c", "check:false -> other"),
    )
    result = await run(executor, wf, {"go": False})

    assert statuses(result) == {
        "start": "succeeded",
        "check": "succeeded",
        "a": "skipped",
        "b": "skipped",
        "c": "skipped",
        "other": "succeeded",
    }
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.nodes["other"].outputs == {"output": {"go": False}}
    assert started_nodes(bus, result.execution_id) == {"start", "check", "other"}
    assert all(result.nodes[n].error is None for n in ("a", "b", "c"))


async def test_skipped_events_say_why(executor: Executor, bus: InMemoryBus) -> None:
    wf = if_workflow(node("a"), links=("check:true -> a",))
    result = await run(executor, wf, {"go": False})

    skipped = [e for e in bus.events(result.execution_id) if e.type == "node.skipped"]
    assert [e.node_id for e in skipped] == ["a"]
    assert "input" in skipped[0].reason


async def test_a_node_runs_with_whichever_of_two_edges_is_active(executor: Executor) -> None:
    wf = if_workflow(
        set_values("yes", {"took": "true"}),
        set_values("no", {"took": "false"}),
        node("join"),
        links=("check:true -> yes", "check:false -> no", "yes -> join", "no -> join"),
    )
    taken_false = await run(executor, wf, {"go": False})
    taken_true = await run(executor, wf, {"go": True})

    assert taken_false.nodes["yes"].status is NodeStatus.SKIPPED
    assert taken_false.nodes["join"].status is NodeStatus.SUCCEEDED
    assert taken_false.nodes["join"].outputs == {"output": {"took": "false"}}
    assert taken_true.nodes["no"].status is NodeStatus.SKIPPED
    assert taken_true.nodes["join"].outputs == {"output": {"took": "true"}}


async def test_switch_activates_only_the_matching_case(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("route", "core.switch", params={"value": "{{ trigger }}", "cases": ["a", "b"]}),
        node("on_a"),
        node("on_b"),
        node("on_default"),
        links=(
            "start -> route",
            "route:a -> on_a",
            "route:b -> on_b",
            "route:default -> on_default",
        ),
    )
    result = await run(executor, wf, "b")

    assert statuses(result)["on_a"] == "skipped"
    assert statuses(result)["on_b"] == "succeeded"
    assert statuses(result)["on_default"] == "skipped"


async def test_every_port_given_a_value_activates_its_edges(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("fan", "test.ports"),
        node("on_a"),
        node("on_b"),
        node("on_c"),
        links=("start -> fan", "fan:a -> on_a", "fan:b -> on_b", "fan:c -> on_c"),
    )
    result = await run(executor, wf, {"a": 1, "c": None})

    assert statuses(result)["on_b"] == "skipped"
    assert result.nodes["on_a"].outputs == {"output": 1}
    assert result.nodes["on_c"].outputs == {"output": None}  # None is a value, not silence


# -- merge ----------------------------------------------------------------------------


def merge_workflow(mode: str) -> Any:
    """Three sources finishing in the opposite of their edge order; one is skipped."""
    return if_workflow(
        set_values("slow", {"v": "slow"}),
        set_values("fast", {"v": "fast"}),
        node("gate"),
        node("merged", "core.merge", params={"mode": mode}),
        delay("wait", 0.05),
        links=(
            "start -> wait",
            "wait -> slow",
            "start -> fast",
            "check:true -> gate",
            "slow -> merged",
            "gate -> merged",
            "check:false -> merged",
            "fast -> merged",
        ),
    )


async def test_merge_lists_what_arrived_in_edge_order(executor: Executor) -> None:
    result = await run(executor, merge_workflow("list"), {"go": False})

    assert result.nodes["gate"].status is NodeStatus.SKIPPED
    assert result.nodes["merged"].outputs == {
        "output": [{"v": "slow"}, {"go": False}, {"v": "fast"}]
    }


async def test_merge_keys_by_source_in_object_mode(executor: Executor) -> None:
    result = await run(executor, merge_workflow("object"), {"go": False})

    assert result.nodes["merged"].outputs == {
        "output": {"slow": {"v": "slow"}, "check:false": {"go": False}, "fast": {"v": "fast"}}
    }


async def test_merge_with_nothing_arrived_is_skipped(executor: Executor) -> None:
    wf = if_workflow(
        node("a"),
        node("b"),
        node("merged", "core.merge"),
        node("after"),
        links=(
            "check:true -> a",
            "check:true -> b",
            "a -> merged",
            "b -> merged",
            "merged -> after",
        ),
    )
    result = await run(executor, wf, {"go": False})

    assert statuses(result)["merged"] == "skipped"
    assert statuses(result)["after"] == "skipped"
    assert result.status is ExecutionStatus.SUCCEEDED


# -- pinned outputs -------------------------------------------------------------------


async def test_a_pinned_node_is_not_run_and_its_value_flows_on(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("explode", "test.raise", pin={"output": {"mock": 1}}),
        set_values("use", {"seen": "{{ input.mock }}"}),
        node("out", "core.output"),
        links=("start -> explode", "explode -> use", "use -> out"),
    )
    result = await run(executor, wf)

    pinned = result.nodes["explode"]
    assert pinned.status is NodeStatus.SUCCEEDED
    assert pinned.pinned is True
    assert pinned.attempts == 0
    assert pinned.outputs == {"output": {"mock": 1}}
    assert result.output == {"seen": 1}
    assert "explode" not in started_nodes(bus, result.execution_id)
    completed = [e for e in bus.events(result.execution_id) if e.type == "node.completed"]
    assert [e.pinned for e in completed if e.node_id == "explode"] == [True]


async def test_pinning_a_port_of_a_branching_node_picks_the_branch(executor: Executor) -> None:
    wf = if_workflow(
        node("yes"),
        node("no"),
        links=("check:true -> yes", "check:false -> no"),
    )
    pinned = wf.model_copy(
        update={
            "nodes": [
                n.model_copy(update={"pin": {"false": "mocked"}}) if n.id == "check" else n
                for n in wf.nodes
            ]
        }
    )
    result = await run(executor, pinned, {"go": True})

    assert result.nodes["check"].pinned is True
    assert statuses(result)["yes"] == "skipped"
    assert result.nodes["no"].outputs == {"output": "mocked"}


# -- reused results -------------------------------------------------------------------


async def test_reused_nodes_are_not_run_again(executor: Executor, bus: InMemoryBus) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "flaky",
            "test.flaky",
            params={"fail_attempts": 1},
            retry={"max_attempts": 2, "backoff_s": 0, "jitter": False},
        ),
        node("out", "core.output"),
        links=("start -> flaky", "flaky -> out"),
    )
    first = await run(executor, wf, "one")
    second = await run(executor, wf, "two", RunOptions(reuse={"flaky": first.nodes["flaky"]}))

    reused = second.nodes["flaky"]
    assert reused.reused is True
    assert reused.outputs == first.nodes["flaky"].outputs
    assert "flaky" not in started_nodes(bus, second.execution_id)
    assert second.output == {"attempt": 2, "input": "one"}
    assert second.nodes["start"].reused is False


async def test_a_failed_result_is_not_reused(executor: Executor, bus: InMemoryBus) -> None:
    wf = workflow(node("start", "trigger.manual"), node("a"), links=("start -> a",))
    failed = NodeResult(node_id="a", status=NodeStatus.FAILED)
    result = await run(executor, wf, "x", RunOptions(reuse={"a": failed}))

    assert result.nodes["a"].reused is False
    assert result.nodes["a"].outputs == {"output": "x"}
    assert "a" in started_nodes(bus, result.execution_id)


# -- edge cases -----------------------------------------------------------------------


async def test_an_empty_workflow_succeeds_at_once(executor: Executor, bus: InMemoryBus) -> None:
    result = await run(executor, workflow())

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.nodes == {}
    assert [e.type for e in bus.events(result.execution_id)] == [
        "execution.started",
        "execution.completed",
    ]


async def test_nodes_without_upstream_all_start_with_no_input(executor: Executor) -> None:
    wf = workflow(node("a"), delay("b", 0.01), links=())
    result = await run(executor, wf, "ignored")

    assert result.nodes["a"].outputs == {"output": None}
    assert result.nodes["b"].outputs == {"output": None}


async def test_one_plan_serves_concurrent_executions_apart(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        delay("wait", 0.02),
        set_values("shape", {"n": "{{ input.n }}"}),
        node("out", "core.output"),
        links=("start -> wait", "wait -> shape", "shape -> out"),
    )
    plan = executor.compile(wf)
    results = await asyncio.gather(*(executor.execute(plan, {"n": i}) for i in range(5)))

    assert [r.output for r in results] == [{"n": i} for i in range(5)]
    assert len({r.execution_id for r in results}) == 5
