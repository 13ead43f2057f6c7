"""The question-answering domain's own commands: ``ida audit`` and ``ida bench engine``. Added
to every ``ida`` call, so this module imports nothing heavy until a command runs."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from ida.core.errors import IdaError

out = Console()


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
    benches = [group.typer_instance for group in app.registered_groups if group.name == "bench"]
    if not benches:
        benches = [typer.Typer(no_args_is_help=True, help="Measure speed.")]
        app.add_typer(benches[0], name="bench")
    benches[0].command("engine")(bench_engine)
