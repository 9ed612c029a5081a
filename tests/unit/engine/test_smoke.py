from tav.core.states import ExecutionStatus
from tests.helpers import node, run, statuses, workflow


async def test_a_chain_runs_and_outputs(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("double", "core.set", params={"values": {"n": "{{ trigger.n * 2 }}"}}),
        node("out", "core.output"),
        links=("start -> double", "double -> out"),
    )
    result = await run(executor, wf, {"n": 21})
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {"n": 42}
    assert statuses(result) == {"start": "succeeded", "double": "succeeded", "out": "succeeded"}
