"""The task registry: every domain IDA can be run on, by name.

A new task is one class: subclass ``Task`` and decorate it with ``@register`` (or, for the
``ida`` command, expose it as an ``ida.tasks`` entry point of an installed package).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ida.core.errors import IdaError
from ida.domains.qa.tasks.base import Instance, Question, Task
from ida.domains.qa.tasks.permutation_powering import PermutationPowering
from ida.domains.qa.tasks.sequential_assignments import SequentialAssignments
from ida.domains.qa.tasks.shortest_path import ShortestPath
from ida.domains.qa.tasks.union_find import UnionFind
from ida.domains.qa.tasks.wildcard_search import WildcardSearch

TASKS: dict[str, type[Task]] = {
    t.name: t
    for t in [PermutationPowering, SequentialAssignments, WildcardSearch, ShortestPath, UnionFind]
}


def register(cls: type[Task]) -> type[Task]:
    """Make a task class available by its ``name`` (usable as a class decorator)."""
    TASKS[cls.name] = cls
    return cls


def all_tasks() -> dict[str, type[Task]]:
    """Every task: the built-in ones, those registered, and the ``ida.tasks`` entry points."""
    for entry in entry_points(group="ida.tasks"):
        if entry.name in TASKS:
            continue
        try:
            register(entry.load())
        except Exception as err:  # a broken plugin must not take the built-in tasks down
            raise IdaError(f"cannot load task plugin {entry.name!r}: {err}") from None
    return TASKS


def get_task(name: str, size: int | None = None) -> Task:
    """The task called ``name`` at ``size`` elements per instance (its default when None)."""
    if name not in TASKS:
        all_tasks()
    if name not in TASKS:
        raise IdaError(f"unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name](size)


__all__ = ["TASKS", "Instance", "Question", "Task", "all_tasks", "get_task", "register"]
