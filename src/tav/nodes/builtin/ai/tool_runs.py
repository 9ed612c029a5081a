"""Runs of ``ai.agent``'s tool workflows that wait themselves (a ``core.wait`` in them).

A tool workflow runs as an execution of its own. One that waits (for a person, a timer, a
call) is stored ``waiting`` with its own waits and links, as any sub-workflow's run
(docs/reference/waits.md); the agent then waits for its end without holding anything: it
parks, with its conversation as its state, on a wait for that execution
(``tav.core.children``), and once the execution has ended it runs again and the model
gets its output (or its failure) as the call's result. Calls of one answer that wait are
waited for one at a time, in the order the model made them, as approvals are.

``ctx.run_workflow`` would park the agent itself on such a run, without its state, and
then settle it with the tool's output: the agent runs its tools with ``ctx.workflow``
instead, and parks itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tav.nodes.context import ChildWaits, NodeContext

if TYPE_CHECKING:
    from tav.core.waits import WaitOutcome

WAITS_KEY = "waits_for_execution"
"""In a call's step while its tool workflow's execution waits: that execution's id."""


class ToolWorkflowWaits(Exception):
    """The execution of a tool workflow waits (it is stored ``waiting``)."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(execution_id)
        self.execution_id = execution_id


async def run_tool_workflow(ctx: NodeContext, workflow: str, arguments: dict[str, Any]) -> Any:
    """Run the tool workflow as an execution of its own and return its output; raise
    ``NodeError`` if it fails, ``ToolWorkflowWaits`` if it waits."""
    runner = await ctx.workflow(workflow, separate=True)
    try:
        return await runner.run(arguments)
    except ChildWaits as waits:
        raise ToolWorkflowWaits(waits.execution_id) from None


def child_ended(step: dict[str, Any], outcome: WaitOutcome) -> dict[str, Any]:
    """The step of a call whose tool workflow's execution waited, now that it has ended."""
    ended = {k: v for k, v in step.items() if k != WAITS_KEY}
    if outcome.error is not None:
        ended["error"] = outcome.error.message
    else:
        ended["output"] = (outcome.outputs or {}).get("output")
    return ended
