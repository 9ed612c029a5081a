"""Which results of an earlier execution a new execution may take over (retry, run-from-node).

A node's earlier result stands only if the node would get the same inputs again: every node
that runs again — a start node, or one that did not settle as succeeded or skipped — makes
everything downstream of it run again too. Of the rest, succeeded results are reused; skipped
nodes are simply evaluated again (that costs nothing and gives the same answer). Pinned
nodes are left to pin again, since their pin may have changed with the workflow.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from tav.core.errors import InputInvalid
from tav.core.results import NodeResult
from tav.core.states import NodeStatus
from tav.engine.plan import ExecutionPlan

_STANDS = frozenset({NodeStatus.SUCCEEDED, NodeStatus.SKIPPED})


def reusable(
    plan: ExecutionPlan, results: Mapping[str, NodeResult], start_at: Collection[str] = ()
) -> dict[str, NodeResult]:
    """The succeeded ``results`` that a new execution of ``plan`` can reuse when the
    ``start_at`` nodes, and every node that did not settle, run again.

    Raises ``InputInvalid`` naming the ``start_at`` nodes that are not in the plan."""
    unknown = sorted(set(start_at) - set(plan.nodes))
    if unknown:
        names = ", ".join(repr(node_id) for node_id in unknown)
        raise InputInvalid(f"start_at names nodes that are not in the workflow: {names}")
    unsettled = (
        node_id
        for node_id in plan.nodes
        if node_id not in results or results[node_id].status not in _STANDS
    )
    rerun = downstream(plan, [*start_at, *unsettled])
    return {
        node_id: result
        for node_id, result in results.items()
        if node_id in plan.nodes
        and node_id not in rerun
        and result.status is NodeStatus.SUCCEEDED
        and not result.pinned
    }


def downstream(plan: ExecutionPlan, roots: Iterable[str]) -> set[str]:
    """``roots`` and every node downstream of them."""
    successors: dict[str, list[str]] = {}
    for node_id, predecessors in plan.predecessors.items():
        for predecessor in predecessors:
            successors.setdefault(predecessor, []).append(node_id)
    reached = set(roots)
    stack = list(reached)
    while stack:
        for successor in successors.get(stack.pop(), ()):
            if successor not in reached:
                reached.add(successor)
                stack.append(successor)
    return reached
