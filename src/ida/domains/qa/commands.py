"""The question-answering domain's commands: ``ida eval``'s report, ``ida audit`` and
``ida bench engine``. Added to every ``ida`` call, so this module imports nothing heavy until a
command runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ida.core.errors import IdaError

if TYPE_CHECKING:
    from ida.domains.qa.job import QAJob

out = Console()


def evaluate_run(
    job: QAJob, seed: int, per_level: int, weights: str | None
) -> tuple[dict[str, Any], Group]:
    """Accuracy per difficulty on ``per_level`` fresh questions a level, and a table of it."""
    from typing import get_args

    import numpy as np

    from ida.domains.qa.config import EvalWeights
    from ida.domains.qa.evaluate import heldout_set

    if per_level < 8:
        raise IdaError("--per-level must be at least 8")
    if weights not in (None, *get_args(EvalWeights)):
        choices = " or ".join(map(repr, get_args(EvalWeights)))
        raise IdaError(f"--weights must be {choices}, not {weights!r}")
    weights = weights or job.cfg.eval_weights
    data = heldout_set(job.task, np.random.default_rng([seed, 2]), per_level)
    result = {
        "task": job.task.name,
        "mode": job.cfg.mode,
        "size": job.task.size,
        "step": job.loop.step,
        "weights": weights,
        **job.evaluate(data, weights),
    }
    table = Table(
        title=f"{job.task.name} ({job.cfg.mode}), step {job.loop.step}, {weights} weights"
    )
    table.add_column("level", justify="right")
    table.add_column("accuracy", justify="right")
    for lv, acc in enumerate(result["accuracy_by_level"]):
        table.add_row(str(lv), f"{acc:.3f}")
    table.add_row("all", f"[bold]{result['accuracy']:.3f}[/bold]")
    parts: list[Any] = [table]
    if "adversary_spearman" in result:
        parts.append(
            Text(
                f"Spearman correlation with the true loss: adversary "
                f"{result['adversary_spearman']:.3f}, model entropy "
                f"{result['entropy_spearman']:.3f}"
            )
        )
    return result, Group(*parts)


def audit(
    run_dir: Annotated[str, typer.Argument(help="a run directory")],
    level: Annotated[int | None, typer.Option(help="difficulty (default: hardest)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the fresh question")] = 0,
    limit: Annotated[int, typer.Option(help="nodes to show")] = 20,
    order: Annotated[str, typer.Option(help="adversary or bfs")] = "adversary",
) -> None:
    """Unfold the model's own tree for a fresh question, most suspect nodes first."""
    from ida.core.runs.run import load_job
    from ida.domains.qa.job import QAJob
    from ida.domains.qa.show import render_audit

    if order not in ("adversary", "bfs"):
        raise IdaError("--order must be 'adversary' or 'bfs'")
    job = load_job(run_dir)
    if not isinstance(job, QAJob):
        raise IdaError(f"{run_dir} is not a question-answering run: nothing to audit")
    out.print(render_audit(job, level, seed, limit, order))


def bench_engine(
    task: Annotated[str, typer.Option(help="task name")] = "permutation_powering",
    size: Annotated[int | None, typer.Option(help="elements per instance")] = None,
    trees: Annotated[int, typer.Option(help="trees amplified at once")] = 4096,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Amplified nodes per second: batched, one at a time, and the model's forward ceiling."""
    from ida.domains.qa.bench import bench_engine as run_bench
    from ida.domains.qa.tasks import get_task

    get_task(task, size)
    if trees < 1:
        raise IdaError("--trees must be at least 1")
    result = run_bench(task, size, trees)
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            out.print(f"{key:28} {value}")


def add_commands(app: typer.Typer) -> None:
    """``ida audit`` and ``ida bench engine``."""
    app.command()(audit)
    from ida.core.registry import command_group

    command_group(app, "bench", "Measure speed.").command("engine")(bench_engine)
