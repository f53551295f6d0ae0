"""Cycles in the targets' ``depends`` graph: one pure function for admission and the workflow.

A cycle blocks deployment forever (no target in it could ever start). ``api.validation`` reports it
as a field problem; the workflow (``workflows.depends``) re-checks before provisioning. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The first cycle found, as the path that closes it (``[a, b, a]``), or None. Unknown names are leaves."""
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state and (found := visit(start)):
            return found
    return None
