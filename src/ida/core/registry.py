"""The domains IDA runs on, found by task name.

A domain (question decomposition, games, program induction, ...) is one package that registers
a ``Domain`` under the entry-point group ``ida.domains``: its config class, the tasks it owns,
each task's recommended settings, a builder that turns a config into a runnable ``Job``, its
evaluator and its renderer for ``ida show``, and any subcommands of its own. The core imports no
domain: it finds them here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ida.core.errors import IdaError

if TYPE_CHECKING:
    import typer

    from ida.core.runs.config import RunConfig
    from ida.core.runs.job import Job

GROUP = "ida.domains"


@dataclass(frozen=True)
class Domain:
    """What a domain gives the core.

    ``tasks()``: task name -> one-line description (plugins included); ``configure(task, base)``:
    the validated config for ``task`` from ``base`` settings over the task's recommended ones;
    ``build(cfg)``: a fresh ``Job``; ``evaluate(job, seed, per_level, weights)``: a result dict
    and its rich rendering; ``render(job, **options)``: ``ida show``'s rich renderable;
    ``commands(app)``: adds the domain's own subcommands to the ``ida`` command."""

    name: str
    config: type[RunConfig]
    tasks: Callable[[], Mapping[str, str]]
    configure: Callable[[str, dict], RunConfig]
    build: Callable[[RunConfig], Job]
    evaluate: Callable[..., tuple[dict[str, Any], Any]]
    render: Callable[..., Any]
    commands: Callable[[typer.Typer], None] | None = field(default=None)


_DOMAINS: dict[str, Domain] = {}


def register_domain(domain: Domain) -> Domain:
    """Make ``domain`` available (entry points do this for installed packages)."""
    _DOMAINS[domain.name] = domain
    return domain


def domains() -> dict[str, Domain]:
    """Every domain: those registered, and those the ``ida.domains`` entry points name."""
    for entry in entry_points(group=GROUP):
        if entry.name not in _DOMAINS:
            try:
                register_domain(entry.load())
            except Exception as err:  # a broken plugin must not take the others down silently
                raise IdaError(f"cannot load domain {entry.name!r}: {err}") from None
    return _DOMAINS


def domain_of(task: str) -> Domain:
    """The domain that owns ``task``; an unknown task is a one-line error listing them all."""
    found = domains()
    for domain in found.values():
        if task in domain.tasks():
            return domain
    names = sorted(name for domain in found.values() for name in domain.tasks())
    raise IdaError(f"unknown task {task!r}; choose one of: {', '.join(names)}")
