"""The one cycle check of the targets' ``depends`` graph (api/depends.py), used by admission
validation and by the workflow: it finds a cycle exactly when there is one, and the path it
returns is a real cycle of the graph."""

from __future__ import annotations

import graphlib
import itertools

from hypothesis import given
from hypothesis import strategies as st

from api.depends import find_cycle

NAMES = ["app", "db", "loadgen", "cache", "proxy", "queue"]

graphs = st.dictionaries(
    st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3, unique=True), min_size=1, max_size=6
)


def is_acyclic(graph: dict[str, list[str]]) -> bool:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        return False
    return True


@given(graphs)
def test_a_cycle_is_found_exactly_when_the_graph_has_one(graph: dict[str, list[str]]) -> None:
    cycle = find_cycle(graph)
    assert (cycle is None) == is_acyclic(graph)
    if cycle is not None:
        assert cycle[0] == cycle[-1] and len(cycle) >= 2
        assert all(b in graph.get(a, []) for a, b in itertools.pairwise(cycle))


def test_a_target_depending_on_itself_is_a_cycle_of_one() -> None:
    assert find_cycle({"app": ["app"]}) == ["app", "app"]


def test_the_reported_path_is_the_cycle_only() -> None:
    assert find_cycle({"app": ["loadgen"], "loadgen": ["db"], "db": ["loadgen"]}) == ["loadgen", "db", "loadgen"]
