"""``Readiness`` answers as ``graphlib.TopologicalSorter`` does, over any plan's graph."""

from __future__ import annotations

import graphlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tav.engine.readiness import Readiness, ReadyGraph


@st.composite
def dags(draw: st.DrawFn) -> dict[str, frozenset[str]]:
    """Predecessors of a random DAG: a node may depend on any node listed before it,
    though the document may list nodes in any order."""
    size = draw(st.integers(min_value=1, max_value=12))
    names = [f"n{i}" for i in range(size)]
    graph = {
        name: frozenset(draw(st.sets(st.sampled_from(names[:index])))) if index else frozenset()
        for index, name in enumerate(names)
    }
    order = draw(st.permutations(names))
    return {name: graph[name] for name in order}


@given(dags(), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_it_hands_out_what_graphlib_does_in_the_same_order(graph, random):
    sorter = graphlib.TopologicalSorter(graph)
    sorter.prepare()
    readiness = Readiness(ReadyGraph.of(graph))
    handed_out: list[str] = []
    while sorter.is_active():
        assert readiness.is_active()
        ready = sorter.get_ready()
        assert readiness.get_ready() == ready
        handed_out.extend(ready)
        if handed_out:  # settle some of what is out, in any order
            for node_id in random.sample(handed_out, random.randint(1, len(handed_out))):
                handed_out.remove(node_id)
                sorter.done(node_id)
                readiness.done(node_id)
    assert not readiness.is_active()
    assert readiness.get_ready() == ()


def test_a_node_is_ready_once_every_predecessor_has_settled():
    graph = {"a": frozenset(), "b": frozenset(), "c": frozenset({"a", "b"})}
    readiness = Readiness(ReadyGraph.of(graph))

    assert readiness.get_ready() == ("a", "b")
    readiness.done("a")
    assert readiness.get_ready() == ()
    assert readiness.is_active()
    readiness.done("b")
    assert readiness.get_ready() == ("c",)
    readiness.done("c")
    assert not readiness.is_active()


def test_each_execution_starts_afresh_from_the_plans_graph():
    graph = ReadyGraph.of({"a": frozenset(), "b": frozenset({"a"})})
    first = Readiness(graph)
    first.get_ready()
    first.done("a")

    assert Readiness(graph).get_ready() == ("a",)
