"""``tav run``'s progress lines say why a node was cancelled when nobody cancelled it."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from tav.cli.progress import ProgressView
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tests.helpers import node, workflow


async def test_a_node_after_a_failure_reads_not_run(executor: Executor, bus: InMemoryBus) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("boom", "test.raise", params={"message": "kaput"}),
        node("after"),
        links=("start -> boom", "boom -> after"),
    )
    plan = executor.compile(wf)
    out = StringIO()
    view = ProgressView(plan, live=False)
    view.console = Console(file=out, width=200)
    result = await executor.execute(plan)
    for event in bus.events(result.execution_id):
        view.update(event)

    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    assert "cancelled after — not run: a node it depends on failed" in lines
