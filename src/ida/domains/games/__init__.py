"""Games: AlphaZero as IDA on any two-player, zero-sum, perfect-information OpenSpiel game.

Monte Carlo tree search is Amplify (it calls the policy-value net as a subroutine and plays
better than the net alone); the net is Distill (it learns to predict what the search settles
on, and the outcome). ``DOMAIN`` is what the core finds through the ``ida.domains`` entry point;
the rest is imported when it is used.
"""

from __future__ import annotations

from ida.core.registry import Domain


def _config():
    from ida.domains.games.config import GamesConfig

    return GamesConfig


def _tasks():
    from ida.domains.games.game import GameNames

    return GameNames()


def _configure(task: str, base: dict):
    from ida.domains.games.config import configure

    return configure(task, base)


def _build(cfg):
    from ida.domains.games.job import GamesJob

    return GamesJob(cfg)


def _evaluate(job, **options):
    from ida.domains.games.commands import evaluate_run

    return evaluate_run(job, **options)


def _render(job, **options):
    from ida.domains.games.commands import render_game

    return render_game(job, **options)


def _commands(app) -> None:
    from ida.domains.games.commands import add_commands

    add_commands(app)


DOMAIN = Domain(
    name="games",
    config=_config,
    tasks=_tasks,
    configure=_configure,
    build=_build,
    evaluate=_evaluate,
    render=_render,
    commands=_commands,
)
