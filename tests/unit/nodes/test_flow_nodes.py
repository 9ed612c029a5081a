"""Flow control nodes: core.if, core.switch, core.merge, core.delay, core.noop, core.fail."""

from __future__ import annotations

import asyncio
import time

import pytest

from tav.core.errors import WorkflowInvalid
from tav.core.states import ExecutionStatus
from tav.nodes.builtin.core.flow import truthy
from tests.helpers import node, run, statuses, workflow


def target(port: str) -> str:
    """The id of the noop that ``branching`` puts behind ``port``."""
    return "to_" + port.replace("-", "_")


def branching(type_: str, params: dict[str, object], ports: tuple[str, ...]):
    """start → branch; each of ``ports`` → a noop of its own."""
    return workflow(
        node("start", "trigger.manual"),
        node("branch", type_, params=params),
        *(node(target(port)) for port in ports),
        links=("start -> branch", *(f"branch:{port} -> {target(port)}" for port in ports)),
    )


# -- core.if ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "taken"),
    [
        (True, "true"),
        (False, "false"),
        (1, "true"),
        (0, "false"),
        ([1], "true"),
        ([], "false"),
        (None, "false"),
        ("yes", "true"),
        ("anything", "true"),
        ("false", "false"),
        ("False", "false"),
        (" no ", "false"),
        ("0", "false"),
        ("off", "false"),
        ("", "false"),
    ],
)
async def test_if_routes_its_input_by_the_conditions_truthiness(executor, value, taken):
    wf = branching("core.if", {"condition": "{{ trigger.c }}"}, ("true", "false"))
    result = await run(executor, wf, {"c": value})

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.nodes["branch"].outputs == {taken: {"c": value}}
    other = "false" if taken == "true" else "true"
    assert statuses(result)[f"to_{taken}"] == "succeeded"
    assert statuses(result)[f"to_{other}"] == "skipped"
    assert result.nodes[f"to_{taken}"].outputs == {"output": {"c": value}}


async def test_if_accepts_an_expression_and_a_literal_condition(executor):
    expression = branching("core.if", {"condition": "{{ trigger.n > 3 }}"}, ("true", "false"))
    literal = branching("core.if", {"condition": "no"}, ("true", "false"))

    assert "true" in (await run(executor, expression, {"n": 5})).nodes["branch"].outputs
    assert "false" in (await run(executor, expression, {"n": 1})).nodes["branch"].outputs
    assert "false" in (await run(executor, literal, {})).nodes["branch"].outputs


def test_truthy_treats_negative_words_as_false_and_other_strings_as_true():
    assert not any(truthy(s) for s in ("false", "FALSE", "no", "0", "off", "none", "null", " "))
    assert all(truthy(s) for s in ("true", "yes", "1", "ok", "nope"))


# -- core.switch ------------------------------------------------------------------------

SWITCH = {"value": "{{ trigger.color }}", "cases": ["red", "green-ish"]}
SWITCH_PORTS = ("red", "green-ish", "default")


@pytest.mark.parametrize(
    ("color", "taken"), [("red", "red"), ("green-ish", "green-ish"), ("blue", "default")]
)
async def test_switch_routes_to_the_matching_case_else_default(executor, color, taken):
    result = await run(executor, branching("core.switch", SWITCH, SWITCH_PORTS), {"color": color})

    assert result.nodes["branch"].outputs == {taken: {"color": color}}
    assert {p: statuses(result)[target(p)] for p in SWITCH_PORTS} == {
        p: "succeeded" if p == taken else "skipped" for p in SWITCH_PORTS
    }


async def test_switch_compares_values_as_text(executor):
    params = {"value": "{{ trigger.flag }}", "cases": ["true", "false"]}
    wf = branching("core.switch", params, ("true", "false", "default"))

    assert "true" in (await run(executor, wf, {"flag": True})).nodes["branch"].outputs
    assert "false" in (await run(executor, wf, {"flag": False})).nodes["branch"].outputs


@pytest.mark.parametrize("bad", [["default"], ["has space"], ["1st"], ["a:b"], ["a", "a"], []])
def test_switch_rejects_cases_that_cannot_be_port_names(executor, bad):
    wf = workflow(node("sw", "core.switch", params={"value": "x", "cases": bad}))

    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(wf)

    [problem] = caught.value.problems
    assert (problem.node, problem.field) == ("sw", "params.cases")


def test_switch_output_ports_follow_its_cases(executor):
    wf = workflow(
        node("sw", "core.switch", params={"value": "x", "cases": ["a"]}),
        node("next"),
        links=("sw:b -> next",),
    )

    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(wf)

    [problem] = caught.value.problems
    assert problem.edge == 0
    assert "no output port 'b'" in problem.message
    assert "a, default" in problem.message


# -- core.merge -------------------------------------------------------------------------


def fan_in(mode: str | None):
    """Two branches into a merge; the edge from the slow branch comes first."""
    params = {"mode": mode} if mode else {}
    return workflow(
        node("start", "trigger.manual"),
        node("fast", "core.set", params={"values": {"v": "fast"}}),
        node("slow", "core.delay", params={"seconds": 0.05}),
        node("m", "core.merge", params=params),
        links=("start -> fast", "start -> slow", "slow -> m", "fast -> m"),
    )


async def test_merge_lists_values_in_edge_order_not_arrival_order(executor):
    result = await run(executor, fan_in(None), {"v": "slow"})

    assert result.nodes["m"].outputs == {"output": [{"v": "slow"}, {"v": "fast"}]}


async def test_merge_object_mode_keys_values_by_source_node(executor):
    result = await run(executor, fan_in("object"), {"v": "slow"})

    assert result.nodes["m"].outputs == {"output": {"slow": {"v": "slow"}, "fast": {"v": "fast"}}}


async def test_merge_passes_on_what_arrived_when_a_branch_is_skipped(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("cond", "core.if", params={"condition": "{{ trigger.ok }}"}),
        node("yes", "core.set", params={"values": {"branch": "yes"}}),
        node("no", "core.set", params={"values": {"branch": "no"}}),
        node("m", "core.merge", params={"mode": "object"}),
        node("m_list", "core.merge"),
        links=(
            "start -> cond",
            "cond:true -> yes",
            "cond:false -> no",
            "yes -> m",
            "no -> m",
            "cond:true -> m",
            "no -> m_list",
            "yes -> m_list",
        ),
    )
    result = await run(executor, wf, {"ok": True})

    assert statuses(result)["no"] == "skipped"
    assert statuses(result)["m"] == "succeeded"
    assert result.nodes["m"].outputs == {
        "output": {"yes": {"branch": "yes"}, "cond:true": {"ok": True}}
    }
    assert result.nodes["m_list"].outputs == {"output": [{"branch": "yes"}]}


# -- core.delay, core.noop --------------------------------------------------------------


async def test_delay_waits_then_passes_its_input_on(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": "{{ trigger.s }}"}),
        links=("start -> wait",),
    )
    began = time.perf_counter()
    result = await run(executor, wf, {"s": 0.2})
    elapsed = time.perf_counter() - began

    assert result.nodes["wait"].outputs == {"output": {"s": 0.2}}
    assert 0.2 <= elapsed < 0.5


async def test_delay_stops_at_once_when_the_execution_is_cancelled(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 30}),
        links=("start -> wait",),
    )
    began = time.perf_counter()
    handle = executor.start(executor.compile(wf), {})
    await asyncio.sleep(0.05)
    handle.cancel()
    result = await handle.wait()

    assert time.perf_counter() - began < 0.5
    assert result.status is ExecutionStatus.CANCELLED
    assert statuses(result)["wait"] == "cancelled"


def test_delay_rejects_a_negative_wait(executor):
    wf = workflow(node("wait", "core.delay", params={"seconds": -1}))

    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(wf)

    assert [(p.node, p.field) for p in caught.value.problems] == [("wait", "params.seconds")]


async def test_noop_passes_its_input_through_unchanged(executor):
    payload = {"list": [1, 2], "nested": {"x": None}}
    wf = workflow(node("start", "trigger.manual"), node("pass"), links=("start -> pass",))
    result = await run(executor, wf, payload)

    assert result.nodes["pass"].outputs == {"output": payload}


# -- core.fail --------------------------------------------------------------------------


async def test_fail_fails_with_its_rendered_message_and_is_not_retried(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "stop",
            "core.fail",
            params={"message": "order {{ trigger.id }} is invalid"},
            retry={"max_attempts": 3, "backoff_s": 0},
        ),
        links=("start -> stop",),
    )
    result = await run(executor, wf, {"id": 7})

    assert result.status is ExecutionStatus.FAILED
    stop = result.nodes["stop"]
    assert (stop.status.value, stop.attempts) == ("failed", 1)
    assert stop.error is not None
    assert (stop.error.type, stop.error.message) == ("fail", "order 7 is invalid")
    assert result.error is not None
    assert result.error.type == "fail"
    assert "order 7 is invalid" in result.error.message


async def test_fail_message_may_be_a_number(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("stop", "core.fail", params={"message": "{{ trigger.code }}"}),
        links=("start -> stop",),
    )
    result = await run(executor, wf, {"code": 418})

    assert result.nodes["stop"].error is not None
    assert (result.nodes["stop"].error.type, result.nodes["stop"].error.message) == ("fail", "418")


async def test_fail_message_can_go_out_on_the_error_port(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("stop", "core.fail", params={"message": "nope"}, on_error="branch"),
        node("handle"),
        links=("start -> stop", "stop:error -> handle"),
    )
    result = await run(executor, wf, {"id": 7})

    assert result.status is ExecutionStatus.SUCCEEDED
    handled = result.nodes["handle"].outputs["output"]
    assert handled == {"type": "fail", "message": "nope", "node": "stop", "input": {"id": 7}}
