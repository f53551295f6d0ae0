"""The ``depends`` graph of the targets: a name no target has, or a cycle, would block deployment forever. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from api.experiment import Target


def dependency_problem(targets: Sequence[Target]) -> str | None:
    """A ``depends`` naming no target, or a cycle, would block deployment forever."""
    graph = {t.name: list(t.depends or []) for t in targets}
    for name, deps in graph.items():
        unknown = [d for d in deps if d not in graph]
        if unknown:
            return f"spec.targets[{name}].depends names unknown targets: {', '.join(unknown)}"
    done: set[str] = set()

    def blocked(name: str, path: tuple[str, ...]) -> str | None:
        if name in path:
            return " → ".join([*path, name])
        if name in done:
            return None
        for dep in graph[name]:
            found = blocked(dep, (*path, name))
            if found:
                return found
        done.add(name)
        return None

    for name in graph:
        cycle = blocked(name, ())
        if cycle:
            return f"spec.targets depends has a cycle: {cycle}"
    return None
