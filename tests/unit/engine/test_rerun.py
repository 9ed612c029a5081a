"""What retry and run-from-node may reuse from an earlier execution."""

from __future__ import annotations

import pytest

from tav.core.errors import InputInvalid
from tav.engine.executor import Executor, RunOptions
from tav.engine.rerun import downstream, reusable
from tests.helpers import node, run, workflow


def diamond():
    return workflow(
        node("start", "trigger.manual"),
        node("left", "core.set", params={"values": {"side": "left"}}),
        node("right", "core.set", params={"values": {"side": "right"}}),
        node("joined", "core.merge"),
        node("end"),
        links=(
            "start -> left",
            "start -> right",
            "left -> joined",
            "right -> joined",
            "joined -> end",
        ),
    )


async def test_downstream_holds_the_roots_and_everything_after_them(executor: Executor):
    plan = executor.compile(diamond())
    assert downstream(plan, ["left"]) == {"left", "joined", "end"}
    assert downstream(plan, ["start"]) == set(plan.nodes)
    assert downstream(plan, []) == set()


async def test_start_at_nodes_and_their_downstream_run_again(executor: Executor):
    wf = diamond()
    first = await run(executor, wf)
    reuse = reusable(executor.compile(wf), first.nodes, ["left"])
    assert set(reuse) == {"start", "right"}
    second = await run(executor, wf, options=RunOptions(reuse=reuse))
    assert second.succeeded
    assert {n for n, r in second.nodes.items() if r.reused} == {"start", "right"}


async def test_a_retry_reruns_what_did_not_succeed_and_everything_downstream(executor: Executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("ok", "core.set", params={"values": {"a": 1}}),
        node("boom", "test.raise", on_error="branch"),
        node("handled", "core.set", params={"values": {"handled": True}}),
        node("after_ok"),
        links=("start -> ok", "start -> boom", "boom:error -> handled", "ok -> after_ok"),
    )
    first = await run(executor, wf)
    assert first.nodes["handled"].status == "succeeded"
    reuse = reusable(executor.compile(wf), first.nodes)
    assert set(reuse) == {"start", "ok", "after_ok"}


async def test_skipped_branches_do_not_force_a_rerun(executor: Executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ true }}"}),
        node("yes"),
        node("no"),
        node("joined", "core.merge"),
        links=(
            "start -> check",
            "check:true -> yes",
            "check:false -> no",
            "yes -> joined",
            "no -> joined",
        ),
    )
    first = await run(executor, wf)
    assert first.nodes["no"].status == "skipped"
    assert set(reusable(executor.compile(wf), first.nodes)) == {"start", "check", "yes", "joined"}


async def test_pinned_and_unknown_nodes_are_not_reused(executor: Executor):
    wf = workflow(node("start", "trigger.manual"), node("fixed", pin={"output": 1}))
    first = await run(executor, wf)
    extra = first.nodes["start"].model_copy(update={"node_id": "gone"})
    assert set(reusable(executor.compile(wf), {**first.nodes, "gone": extra})) == {"start"}


async def test_unknown_start_at_nodes_are_named(executor: Executor):
    plan = executor.compile(diamond())
    with pytest.raises(InputInvalid, match="'nope', 'other'"):
        reusable(plan, {}, ["other", "left", "nope"])
