"""Which nodes of an execution are ready to run, as their upstream nodes settle.

``Readiness`` answers as ``graphlib.TopologicalSorter`` does after ``prepare()``
(``get_ready``, ``done``, ``is_active``, with the same order of ready nodes), over counts
that ``ReadyGraph`` computes once per plan. Hand-written because ``prepare()`` looks for a
cycle at every execution — a tenth of the CPU of a 10-node webhook run — while a plan was
proved acyclic when its workflow was parsed (``tav.core.workflow``), and a prepared sorter
cannot be copied for the next execution.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReadyGraph:
    """A plan's dependency graph as ``Readiness`` reads it."""

    successors: Mapping[str, tuple[str, ...]]
    waiting: Mapping[str, int]
    """How many predecessors each node waits for (nodes with none are not listed)."""
    roots: tuple[str, ...]

    @classmethod
    def of(cls, predecessors: Mapping[str, Set[str]]) -> ReadyGraph:
        # In the order TopologicalSorter(predecessors) registers nodes and successors.
        successors: dict[str, list[str]] = {}
        for node_id, upstream in predecessors.items():
            successors.setdefault(node_id, [])
            for predecessor in upstream:
                successors.setdefault(predecessor, []).append(node_id)
        waiting = {node_id: len(up) for node_id, up in predecessors.items() if up}
        return cls(
            successors={node_id: tuple(after) for node_id, after in successors.items()},
            waiting=waiting,
            roots=tuple(node_id for node_id in successors if node_id not in waiting),
        )


class Readiness:
    """One execution's progress through a ``ReadyGraph``."""

    __slots__ = ("_graph", "_out", "_ready", "_waiting")

    def __init__(self, graph: ReadyGraph) -> None:
        self._graph = graph
        self._waiting = dict(graph.waiting)
        self._ready = list(graph.roots)
        self._out = 0
        """Nodes handed out by ``get_ready`` and not ``done`` yet."""

    def get_ready(self) -> tuple[str, ...]:
        """The nodes that became ready since the last call (each handed out once)."""
        ready = tuple(self._ready)
        self._ready.clear()
        self._out += len(ready)
        return ready

    def done(self, node_id: str) -> None:
        """``node_id`` (handed out by ``get_ready``) has settled."""
        self._out -= 1
        waiting, ready = self._waiting, self._ready
        for successor in self._graph.successors[node_id]:
            left = waiting[successor] - 1
            waiting[successor] = left
            if left == 0:
                ready.append(successor)

    def is_active(self, parked: int = 0) -> bool:
        """Whether a node is still to be handed out or to settle, but for ``parked`` nodes
        handed out that wait (they settle once the execution resumes)."""
        return self._out > parked or bool(self._ready)
