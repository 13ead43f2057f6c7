"""The task registry: every domain IDA can be run on, by name."""

from __future__ import annotations

from ida.errors import IdaError
from ida.tasks.base import Instance, Question, Task
from ida.tasks.permutation_powering import PermutationPowering
from ida.tasks.sequential_assignments import SequentialAssignments
from ida.tasks.shortest_path import ShortestPath
from ida.tasks.union_find import UnionFind
from ida.tasks.wildcard_search import WildcardSearch

TASKS: dict[str, type[Task]] = {
    t.name: t
    for t in [PermutationPowering, SequentialAssignments, WildcardSearch, ShortestPath, UnionFind]
}


def get_task(name: str, size: int | None = None) -> Task:
    """The task called ``name`` at ``size`` elements per instance (its default when None)."""
    if name not in TASKS:
        raise IdaError(f"unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name](size)


__all__ = ["TASKS", "Instance", "Question", "Task", "get_task"]
