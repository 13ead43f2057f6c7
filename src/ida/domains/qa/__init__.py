"""Question decomposition: the five algorithmic tasks of Christiano, Shlegeris and Amodei
(2018) and any task written to the same protocol (``ida.domains.qa.tasks``).

``DOMAIN`` is what the core finds through the ``ida.domains`` entry point. Everything heavy
(torch, the model) is imported when a run is built, not when the domain is listed.
"""

from __future__ import annotations

from ida.core.registry import Domain
from ida.domains.qa.config import QAConfig


def _tasks() -> dict[str, str]:
    from ida.domains.qa.tasks import all_tasks

    return {name: cls.description for name, cls in all_tasks().items()}


def _configure(task: str, base: dict) -> QAConfig:
    from ida.core.runs.config import merge
    from ida.domains.qa.config import qa_config
    from ida.domains.qa.tasks import all_tasks

    return qa_config(merge(all_tasks()[task].recommended(base.get("size")), base), task=task)


def _build(cfg):
    from ida.domains.qa.build import build_job

    return build_job(cfg)


def _evaluate(job, **options):
    from ida.domains.qa.commands import evaluate_run

    return evaluate_run(job, **options)


def _render(job, **options):
    from ida.domains.qa.show import render_tree

    return render_tree(job, **options)


def _commands(app) -> None:
    from ida.domains.qa.commands import add_commands

    add_commands(app)


DOMAIN = Domain(
    name="qa",
    config=QAConfig,
    tasks=_tasks,
    configure=_configure,
    build=_build,
    evaluate=_evaluate,
    render=_render,
    commands=_commands,
)
