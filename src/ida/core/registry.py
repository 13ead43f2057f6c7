"""The domains IDA runs on, found by task name.

A domain (question decomposition, games, program induction, ...) is one package that registers
a ``Domain`` under the entry-point group ``ida.domains``: its config class, the tasks it owns,
each task's recommended settings, a builder that turns a config into a runnable ``Job``, its
evaluator and its renderer for ``ida show``, and any subcommands of its own. The core imports no
domain: it finds them here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
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

    ``config()``: the config class (imported when first needed); ``tasks()``: task name ->
    one-line description (plugins included); ``configure(task, base)``: the validated config for
    ``task`` from ``base`` settings over the task's recommended ones;
    ``build(cfg)``: a fresh ``Job``; ``evaluate(job, seed, per_level, weights)``: a result dict
    and its rich rendering; ``render(job, **options)``: ``ida show``'s rich renderable;
    ``commands(app)``: adds the domain's own subcommands to the ``ida`` command;
    ``workbench(task, size)``: the web workbench's view of a task's steps, where people can
    take the domain's overseer steps: ``view(context)`` (what the page shows; ``free_text``:
    typed moves), ``form_move(fields)`` (the page's form as a move), ``parse_move(context,
    move)`` (the move checked, else a 422 ``QueueError``), ``question``, ``answer`` and
    ``fact`` (texts for the tree viewer)."""

    name: str
    config: Callable[[], type[RunConfig]]
    tasks: Callable[[], Mapping[str, str]]
    configure: Callable[[str, dict], RunConfig]
    build: Callable[[RunConfig], Job]
    evaluate: Callable[..., tuple[dict[str, Any], Any]]
    render: Callable[..., Any]
    commands: Callable[[typer.Typer], None] | None = field(default=None)
    workbench: Callable[[str, int], Any] | None = field(default=None)


def lazy(target: str, call: bool = True) -> Callable[..., Any]:
    """``"module:name"``, imported only when first used: a function that calls it with its own
    arguments (or, with ``call=False``, returns it). A domain's ``Domain`` is made of these, so
    finding the domains imports none of their code."""

    def load(*args: Any, **kwargs: Any) -> Any:
        module, _, name = target.partition(":")
        found = getattr(importlib.import_module(module), name)
        return found(*args, **kwargs) if call else found

    return load


_DOMAINS: dict[str, Domain] = {}
_LOADED: set[str] = set()  # the entry points loaded
_FAILED: dict[str, str] = {}  # entry points that failed to load, and why


def load_plugins(
    entries: Iterable[EntryPoint], register: Callable[[str, Any], object], failed: dict[str, str]
) -> None:
    """Load each of ``entries`` not already in ``failed`` and hand it to ``register(name,
    loaded)``; one that fails is recorded in ``failed`` (name -> why) instead of raising, so a
    broken plugin takes no other down."""
    for entry in entries:
        if entry.name in failed:
            continue
        try:
            register(entry.name, entry.load())
        except Exception as err:
            failed[entry.name] = f"{type(err).__name__}: {err}"


def register_domain(domain: Domain) -> Domain:
    """Make ``domain`` available (entry points do this for installed packages)."""
    _DOMAINS[domain.name] = domain
    return domain


def domains() -> dict[str, Domain]:
    """Every domain: those registered, and those the ``ida.domains`` entry points name. A plugin
    that fails to load is left out (``domain_of`` says why when its task is asked for)."""

    def register(name: str, domain: Domain) -> None:
        register_domain(domain)
        _LOADED.add(name)

    entries = [entry for entry in entry_points(group=GROUP) if entry.name not in _LOADED]
    load_plugins(entries, register, _FAILED)
    return _DOMAINS


def domain_of(task: str) -> Domain:
    """The domain that owns ``task``; an unknown task is a one-line error listing them all
    (and any domain plugin that could not be loaded)."""
    found = domains()
    for domain in found.values():
        if task in domain.tasks():
            return domain
    names = sorted(name for domain in found.values() for name in domain.tasks())
    broken = "".join(
        f"; domain plugin {name!r} could not be loaded ({why})" for name, why in _FAILED.items()
    )
    raise IdaError(f"unknown task {task!r}; choose one of: {', '.join(names)}{broken}")


def command_group(app: typer.Typer, name: str, help: str) -> typer.Typer:
    """The subcommand group ``name`` of ``app`` (``ida bench``, say), made if it is missing, so
    that every domain can add its commands to it."""
    import typer

    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    made = typer.Typer(no_args_is_help=True, help=help)
    app.add_typer(made, name=name)
    return made
