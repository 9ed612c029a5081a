"""Retries, backoff, timeouts and the three ``on_error`` behaviours."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from pydantic import BaseModel

from tav.core.errors import OperationalError
from tav.core.events import NodeRetrying
from tav.core.results import ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.workflow import RetryPolicy
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.context import NodeContext
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, run, statuses, workflow


def retry(max_attempts: int, backoff_s: float = 0.0, **more: Any) -> dict[str, Any]:
    return {"max_attempts": max_attempts, "backoff_s": backoff_s, "jitter": False, **more}


def flaky(node_id: str = "flaky", *, fail_attempts: int, **fields: Any) -> dict[str, Any]:
    params = {"fail_attempts": fail_attempts, **fields.pop("params", {})}
    return node(node_id, "test.flaky", params=params, **fields)


def after_trigger(*nodes: dict[str, Any], links: tuple[str, ...] = ()) -> Any:
    """``start`` followed by the first node, then any further nodes and links."""
    first = nodes[0]["id"]
    return workflow(node("start", "trigger.manual"), *nodes, links=(f"start -> {first}", *links))


def retrying_events(bus: InMemoryBus, result: ExecutionResult) -> list[NodeRetrying]:
    return [e for e in bus.events(result.execution_id) if isinstance(e, NodeRetrying)]


async def timed_run(executor: Executor, wf: Any, trigger: Any = None) -> tuple[Any, float]:
    clock = time.perf_counter()
    result = await run(executor, wf, trigger)
    return result, time.perf_counter() - clock


# -- retries --------------------------------------------------------------------------


async def test_retries_count_attempts_and_back_off(executor: Executor, bus: InMemoryBus) -> None:
    policy = retry(4, 0.03, backoff_factor=2)
    wf = after_trigger(flaky(fail_attempts=3, retry=policy))
    result, elapsed = await timed_run(executor, wf, "in")

    flaky_result = result.nodes["flaky"]
    assert flaky_result.status is NodeStatus.SUCCEEDED
    assert flaky_result.attempts == 4
    assert flaky_result.outputs == {"output": {"attempt": 4, "input": "in"}}
    events = retrying_events(bus, result)
    assert [e.attempt for e in events] == [1, 2, 3]
    assert [e.delay_s for e in events] == pytest.approx([0.03, 0.06, 0.12])
    assert all(e.error.type == "flaky" for e in events)
    assert elapsed >= 0.2  # 0.21 s of backoff, less the event loop's clock resolution


async def test_every_attempt_emits_node_started(executor: Executor, bus: InMemoryBus) -> None:
    wf = after_trigger(flaky(fail_attempts=2, retry=retry(3)))
    result = await run(executor, wf)

    attempts = [
        e.attempt
        for e in bus.events(result.execution_id)
        if e.type == "node.started" and e.node_id == "flaky"
    ]
    assert attempts == [1, 2, 3]


async def test_a_node_that_runs_out_of_attempts_fails(executor: Executor) -> None:
    wf = after_trigger(flaky(fail_attempts=5, retry=retry(3)))
    result = await run(executor, wf)

    failed = result.nodes["flaky"]
    assert failed.status is NodeStatus.FAILED
    assert failed.attempts == 3
    assert failed.error is not None
    assert failed.error.type == "flaky"
    assert "attempt 3" in failed.error.message


async def test_without_a_retry_policy_a_node_is_tried_once(executor: Executor) -> None:
    result = await run(executor, after_trigger(node("oops", "test.transient")))

    assert result.nodes["oops"].attempts == 1
    assert result.nodes["oops"].error is not None
    assert result.nodes["oops"].error.type == "operational_error"


async def test_unexpected_errors_are_retried_and_recorded_as_exception(
    executor: Executor,
) -> None:
    wf = after_trigger(node("bug", "test.raise", params={"message": "kaput"}, retry=retry(2)))
    result = await run(executor, wf)

    bug = result.nodes["bug"]
    assert bug.attempts == 2
    assert bug.error is not None
    assert bug.error.type == "exception"
    assert bug.error.message == "RuntimeError: kaput"


class Patient(Node):
    """Fails like a busy service; its type retries by default."""

    spec = NodeSpec(type="probe.patient", category="testing")
    default_retry = RetryPolicy(max_attempts=3, backoff_s=0, jitter=False)

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        raise OperationalError("busy")


async def test_a_node_type_may_retry_by_default(registry: NodeRegistry) -> None:
    registry.register(Patient)
    executor = Executor(registry)
    default = await run(executor, after_trigger(node("p", "probe.patient")))
    overridden = await run(executor, after_trigger(node("p", "probe.patient", retry=retry(1))))

    assert default.nodes["p"].attempts == 3
    assert overridden.nodes["p"].attempts == 1


@pytest.mark.parametrize(
    ("failing", "error_type"),
    [
        (flaky("bad", fail_attempts=1, params={"retryable": False}), "flaky"),
        (node("bad", "core.fail", params={"message": "no"}), "fail"),
        (
            node("bad", "core.set", params={"values": {"x": "n: {{ trigger.nope }}"}}),
            "template_error",
        ),
        (
            node("bad", "core.set", params={"values": {"x": "{{ trigger.nope }}"}}),
            "template_error",
        ),
    ],
    ids=["not-retryable", "core.fail", "template-error", "template-error-native"],
)
async def test_errors_not_worth_retrying_are_attempted_once(
    executor: Executor, bus: InMemoryBus, failing: dict[str, Any], error_type: str
) -> None:
    wf = after_trigger({**failing, "retry": retry(5, 1.0)})
    result, elapsed = await timed_run(executor, wf, {"x": 1})

    bad = result.nodes["bad"]
    assert bad.status is NodeStatus.FAILED
    assert bad.attempts == 1
    assert bad.error is not None
    assert bad.error.type == error_type
    assert retrying_events(bus, result) == []
    assert elapsed < 0.5


async def test_a_template_error_names_node_param_and_variable(executor: Executor) -> None:
    wf = after_trigger(node("shape", "core.set", params={"values": {"x": "n: {{ trigger.nope }}"}}))
    result = await run(executor, wf, {"x": 1})

    error = result.nodes["shape"].error
    assert error is not None
    assert "'shape'" in error.message
    assert "values" in error.message
    assert "nope" in error.message


async def test_max_backoff_caps_each_delay(executor: Executor, bus: InMemoryBus) -> None:
    policy = retry(4, 0.02, backoff_factor=10, max_backoff_s=0.05)
    result = await run(executor, after_trigger(flaky(fail_attempts=3, retry=policy)))

    assert [e.delay_s for e in retrying_events(bus, result)] == pytest.approx([0.02, 0.05, 0.05])


async def test_retry_after_overrides_a_shorter_backoff(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = after_trigger(flaky(fail_attempts=1, params={"retry_after": 0.1}, retry=retry(2, 0.01)))
    result, elapsed = await timed_run(executor, wf)

    assert [e.delay_s for e in retrying_events(bus, result)] == pytest.approx([0.1])
    assert elapsed >= 0.095
    assert result.nodes["flaky"].status is NodeStatus.SUCCEEDED


async def test_a_longer_backoff_wins_over_retry_after(executor: Executor, bus: InMemoryBus) -> None:
    wf = after_trigger(flaky(fail_attempts=1, params={"retry_after": 0.01}, retry=retry(2, 0.05)))
    result = await run(executor, wf)

    assert [e.delay_s for e in retrying_events(bus, result)] == pytest.approx([0.05])


async def test_jittered_delays_stay_between_half_and_all_of_the_base(
    executor: Executor, bus: InMemoryBus
) -> None:
    policy = {"max_attempts": 4, "backoff_s": 0.02, "backoff_factor": 2, "jitter": True}
    result = await run(executor, after_trigger(flaky(fail_attempts=3, retry=policy)))

    delays = [e.delay_s for e in retrying_events(bus, result)]
    for delay, base in zip(delays, [0.02, 0.04, 0.08], strict=True):
        assert base / 2 <= delay <= base


# -- RetryPolicy.delay ----------------------------------------------------------------


def test_delay_grows_by_the_factor() -> None:
    policy = RetryPolicy(backoff_s=0.5, backoff_factor=3, max_backoff_s=100, jitter=False)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 13.5]


def test_delay_is_capped_before_jitter() -> None:
    policy = RetryPolicy(backoff_s=1, backoff_factor=2, max_backoff_s=3, jitter=True)
    rng = random.Random(7)
    assert all(1.5 <= policy.delay(n, rng) <= 3 for n in range(3, 20))


def test_jitter_keeps_delays_between_half_and_all_of_the_base() -> None:
    policy = RetryPolicy(backoff_s=2, backoff_factor=2, jitter=True)
    rng = random.Random(1234)
    delays = [policy.delay(2, rng) for _ in range(500)]

    assert all(2 <= d <= 4 for d in delays)
    assert min(delays) < 2.2
    assert max(delays) > 3.8


def test_jitter_is_reproducible_with_a_seeded_random() -> None:
    policy = RetryPolicy(backoff_s=1, jitter=True)
    first = [policy.delay(n, random.Random(42)) for n in (1, 2, 3)]
    again = [policy.delay(n, random.Random(42)) for n in (1, 2, 3)]
    assert first == again


# -- timeouts -------------------------------------------------------------------------


async def test_a_timeout_fails_the_node_in_time(executor: Executor) -> None:
    wf = after_trigger(node("slow", "core.delay", params={"seconds": 5}, timeout_s=0.2))
    result, elapsed = await timed_run(executor, wf)

    slow = result.nodes["slow"]
    assert slow.status is NodeStatus.FAILED
    assert slow.error is not None
    assert slow.error.type == "timeout"
    assert "0.2" in slow.error.message
    assert 0.18 <= elapsed < 0.5
    assert result.status is ExecutionStatus.FAILED


async def test_timeouts_are_retried(executor: Executor, bus: InMemoryBus) -> None:
    wf = after_trigger(
        node("slow", "core.delay", params={"seconds": 5}, timeout_s=0.05, retry=retry(3, 0.01))
    )
    result, elapsed = await timed_run(executor, wf)

    slow = result.nodes["slow"]
    assert slow.attempts == 3
    assert slow.error is not None
    assert slow.error.type == "timeout"
    assert [e.error.type for e in retrying_events(bus, result)] == ["timeout", "timeout"]
    assert 0.15 <= elapsed < 0.6


async def test_a_node_within_its_timeout_succeeds(executor: Executor) -> None:
    wf = after_trigger(node("quick", "core.delay", params={"seconds": 0.01}, timeout_s=1))
    result = await run(executor, wf, "v")

    assert result.nodes["quick"].outputs == {"output": "v"}


# -- on_error -------------------------------------------------------------------------


async def test_stop_fails_the_execution_and_cancels_the_rest(executor: Executor) -> None:
    wf = after_trigger(
        node("gate", "core.delay", params={"seconds": 0.02}),
        node("bad", "core.fail", params={"message": "broken"}),
        node("slow", "core.delay", params={"seconds": 5}),
        node("after_slow"),
        links=("gate -> bad", "start -> slow", "slow -> after_slow"),
    )
    result, elapsed = await timed_run(executor, wf)

    assert statuses(result) == {
        "start": "succeeded",
        "gate": "succeeded",
        "bad": "failed",
        "slow": "cancelled",
        "after_slow": "cancelled",
    }
    assert elapsed < 0.3
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert "'bad'" in result.error.message
    assert "broken" in result.error.message
    assert result.error.type == "fail"
    assert result.nodes["slow"].error is None


async def test_stop_cancels_nodes_downstream_of_the_failure(executor: Executor) -> None:
    wf = after_trigger(
        flaky("bad", fail_attempts=1),
        node("next"),
        links=("bad -> next",),
    )
    result = await run(executor, wf)

    assert statuses(result)["next"] == "cancelled"
    assert result.status is ExecutionStatus.FAILED


async def test_stop_settles_siblings_that_had_not_started_yet(executor: Executor) -> None:
    wf = after_trigger(
        node("bad", "core.fail", params={"message": "at once"}),
        node("b"),
        node("c"),
        node("slow", "core.delay", params={"seconds": 5}),
        links=("start -> b", "start -> c", "start -> slow"),
    )
    handle = executor.start(executor.compile(wf))
    result = await asyncio.wait_for(handle.wait(), 1)  # a node never settled would hang it

    assert result.status is ExecutionStatus.FAILED
    assert statuses(result)["bad"] == "failed"
    assert {statuses(result)[n] for n in ("b", "c", "slow")} <= {"succeeded", "cancelled"}
    assert statuses(result)["slow"] == "cancelled"


class SlowStore(MemoryStore):
    """Takes its time over one node's result, as a store writing to a disk might."""

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        if result.node_id == "not_taken":
            await asyncio.sleep(0.05)
        await super().node_settled(execution_id, result)


async def test_stop_reaches_a_node_found_ready_while_the_store_was_busy(
    registry: NodeRegistry,
) -> None:
    wf = after_trigger(
        node("check", "core.if", params={"condition": "{{ true }}"}),
        node("taken", "core.delay", params={"seconds": 5}),
        node("not_taken"),
        node("gate", "core.delay", params={"seconds": 0.01}),
        node("bad", "core.fail", params={"message": "meanwhile"}),
        links=("check:true -> taken", "check:false -> not_taken", "start -> gate", "gate -> bad"),
    )
    executor = Executor(registry, store=SlowStore())
    result, elapsed = await timed_run(executor, wf)

    assert statuses(result)["taken"] == "cancelled"
    assert elapsed < 1


async def test_continue_skips_downstream_and_runs_the_rest(executor: Executor) -> None:
    wf = after_trigger(
        flaky("bad", fail_attempts=1, on_error="continue"),
        node("after_bad"),
        node("other", "core.delay", params={"seconds": 0.05}),
        node("after_other"),
        links=("bad -> after_bad", "start -> other", "other -> after_other"),
    )
    result = await run(executor, wf, "v")

    assert statuses(result) == {
        "start": "succeeded",
        "bad": "failed",
        "after_bad": "skipped",
        "other": "succeeded",
        "after_other": "succeeded",
    }
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.error is None
    assert result.nodes["after_other"].outputs == {"output": "v"}


async def test_branch_sends_the_error_out_on_the_error_port(executor: Executor) -> None:
    wf = after_trigger(
        flaky("bad", fail_attempts=1, on_error="branch"),
        node("normal"),
        node("handler"),
        links=("bad -> normal", "bad:error -> handler"),
    )
    result = await run(executor, wf, {"payload": 1})

    assert statuses(result) == {
        "start": "succeeded",
        "bad": "failed",
        "normal": "skipped",
        "handler": "succeeded",
    }
    assert result.nodes["handler"].outputs == {
        "output": {
            "type": "flaky",
            "message": "attempt 1 fails on purpose",
            "node": "bad",
            "input": {"payload": 1},
        }
    }
    assert result.status is ExecutionStatus.SUCCEEDED


async def test_branch_takes_the_normal_port_when_the_node_succeeds(executor: Executor) -> None:
    wf = after_trigger(
        flaky("ok", fail_attempts=0, on_error="branch"),
        node("normal"),
        node("handler"),
        links=("ok -> normal", "ok:error -> handler"),
    )
    result = await run(executor, wf)

    assert statuses(result)["normal"] == "succeeded"
    assert statuses(result)["handler"] == "skipped"


async def test_branch_only_after_the_last_attempt(executor: Executor, bus: InMemoryBus) -> None:
    wf = after_trigger(
        flaky("bad", fail_attempts=9, on_error="branch", retry=retry(3)),
        node("handler"),
        links=("bad:error -> handler",),
    )
    result = await run(executor, wf)

    assert result.nodes["bad"].attempts == 3
    assert len(retrying_events(bus, result)) == 2
    started = [e.node_id for e in bus.events(result.execution_id) if e.type == "node.started"]
    assert started.count("handler") == 1


async def test_error_port_of_core_fail_carries_the_rendered_message(executor: Executor) -> None:
    wf = after_trigger(
        node("bad", "core.fail", params={"message": "no {{ trigger.who }}"}, on_error="branch"),
        node("handler"),
        links=("bad:error -> handler",),
    )
    result = await run(executor, wf, {"who": "luck"})

    error = result.nodes["handler"].outputs["output"]
    assert error["type"] == "fail"
    assert error["message"] == "no luck"


# -- execution status -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_error", "expected"),
    [
        ("stop", ExecutionStatus.FAILED),
        ("continue", ExecutionStatus.SUCCEEDED),
        ("branch", ExecutionStatus.SUCCEEDED),
    ],
)
async def test_only_a_failure_under_stop_fails_the_execution(
    executor: Executor, on_error: str, expected: ExecutionStatus
) -> None:
    wf = after_trigger(node("bad", "test.transient", on_error=on_error))
    result = await run(executor, wf)

    assert result.nodes["bad"].status is NodeStatus.FAILED
    assert result.status is expected
    assert (result.error is None) is (expected is ExecutionStatus.SUCCEEDED)
