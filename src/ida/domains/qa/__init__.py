"""Question decomposition: the five algorithmic tasks of Christiano, Shlegeris and Amodei
(2018) and any task written to the same protocol (``ida.domains.qa.tasks``).

``DOMAIN`` is what the core finds through the ``ida.domains`` entry point; the rest of the
domain (builder, evaluator, renderer, commands) is imported when it is used.
"""

from __future__ import annotations

from ida.core.registry import Domain


def _config():
    from ida.domains.qa.config import QAConfig

    return QAConfig


def _tasks() -> dict[str, str]:
    from ida.domains.qa.tasks import task_descriptions

    return task_descriptions()


def _configure(task: str, base: dict):
    from ida.domains.qa.config import configure

    return configure(task, base)


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
    config=_config,
    tasks=_tasks,
    configure=_configure,
    build=_build,
    evaluate=_evaluate,
    render=_render,
    commands=_commands,
)
