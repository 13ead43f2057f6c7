"""The question-answering tasks by name: the five built in, and those plugins register.

A new task is one class: subclass ``Task`` and decorate it with ``@register`` (or, for the
``ida`` command, expose it as an ``ida.tasks`` entry point of an installed package).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ida.core.errors import IdaError
from ida.core.registry import load_plugins
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


_BROKEN: dict[str, str] = {}  # task plugins that failed to load, and why


def all_tasks() -> dict[str, type[Task]]:
    """Every task: the built-in ones, those registered, and the ``ida.tasks`` entry points
    that load (a broken plugin is left out; asking for it by name says why)."""
    entries = [entry for entry in entry_points(group="ida.tasks") if entry.name not in TASKS]
    load_plugins(entries, lambda name, cls: register(cls), _BROKEN)
    return TASKS


def task_descriptions() -> dict[str, str]:
    """Task name -> one-line description, broken plugins included (they say so)."""
    tasks = {name: cls.description for name, cls in all_tasks().items()}
    return {**tasks, **{name: f"(cannot load: {why})" for name, why in _BROKEN.items()}}


def task_class(name: str) -> type[Task]:
    """The task class called ``name``; a one-line error if it is unknown or will not load."""
    tasks = all_tasks()
    if name in _BROKEN:
        raise IdaError(f"cannot load task plugin {name!r}: {_BROKEN[name]}")
    if name not in tasks:
        raise IdaError(f"unknown task {name!r}; choose one of: {', '.join(sorted(tasks))}")
    return tasks[name]


def get_task(name: str, size: int | None = None) -> Task:
    """The task called ``name`` at ``size`` elements per instance (its default when None)."""
    return task_class(name)(size)


__all__ = [
    "TASKS",
    "Instance",
    "Question",
    "Task",
    "all_tasks",
    "get_task",
    "register",
    "task_class",
    "task_descriptions",
]
