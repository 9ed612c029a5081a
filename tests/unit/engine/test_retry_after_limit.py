from tests.helpers import node, run, workflow


async def test_a_retry_after_beyond_max_backoff_gives_up_at_once(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "call",
            "test.flaky",
            params={"fail_attempts": 5, "retry_after": 3600},
            retry={"max_attempts": 5, "backoff_s": 0, "max_backoff_s": 10},
        ),
        links=("start -> call",),
    )
    result = await run(executor, wf)
    assert result.nodes["call"].attempts == 1
    assert result.nodes["call"].error is not None
    assert result.nodes["call"].error.type == "flaky"


async def test_a_retry_after_within_max_backoff_is_waited_for(executor, bus):
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "call",
            "test.flaky",
            params={"fail_attempts": 1, "retry_after": 0.05},
            retry={"max_attempts": 2, "backoff_s": 0, "max_backoff_s": 1},
        ),
        links=("start -> call",),
    )
    result = await run(executor, wf)
    assert result.nodes["call"].attempts == 2
    retrying = [e for e in bus.events(result.execution_id) if e.type == "node.retrying"]
    assert [e.delay_s for e in retrying] == [0.05]
