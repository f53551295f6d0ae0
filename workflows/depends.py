"""The ``depends`` graph of the targets: a name no target has, or a cycle, would block deployment forever. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from api.depends import find_cycle
from api.experiment import Target


def dependency_problem(targets: Sequence[Target]) -> str | None:
    """A ``depends`` naming no target, or a cycle, would block deployment forever."""
    graph = {t.name: list(t.depends or []) for t in targets}
    for name, deps in graph.items():
        unknown = [d for d in deps if d not in graph]
        if unknown:
            return f"spec.targets[{name}].depends names unknown targets: {', '.join(unknown)}"
    cycle = find_cycle(graph)
    if cycle:
        return f"spec.targets depends has a cycle: {' → '.join(cycle)}"
    return None
