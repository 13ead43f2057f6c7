"""The ``ida`` command: list tasks, train, evaluate, show an amplification tree, benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.table import Table

from ida.errors import IdaError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Iterated Distillation and Amplification: A <- Distill(Amplify(H, A)).",
)
bench_app = typer.Typer(no_args_is_help=True, help="Measure speed.")
app.add_typer(bench_app, name="bench")
out = Console()


@app.command()
def tasks() -> None:
    """List the tasks, one line each."""
    from ida.tasks import TASKS

    for name, cls in TASKS.items():
        out.print(f"[bold]{name:24}[/bold] {cls.description}", soft_wrap=True)


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="task name (see `ida tasks`)")],
    mode: Annotated[str | None, typer.Option(help="ida or supervised")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="run directory (default: runs/TASK-MODE[-CONFIG's name])"),
    ] = None,
    size: Annotated[int | None, typer.Option(help="elements per instance")] = None,
    steps: Annotated[int | None, typer.Option(help="distillation steps")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    depth: Annotated[int | None, typer.Option(help="levels of H before A answers")] = None,
    warm_start_steps: Annotated[
        int | None, typer.Option(help="steps of A <- Distill(H) first")
    ] = None,
    distill: Annotated[
        str | None, typer.Option(help="imitation, best_of_n, reinforce or mixed")
    ] = None,
    overseer: Annotated[
        str | None, typer.Option(help="exact, biased, noisy, wasteful or learned (H')")
    ] = None,
    human_budget: Annotated[
        int | None, typer.Option(help="overseer learned: calls to H in all, at most")
    ] = None,
    amplify: Annotated[str | None, typer.Option(help="decompose or adversarial")] = None,
    select: Annotated[
        str | None, typer.Option(help="adversarial: adversary, uncertainty, random or all")
    ] = None,
    approval: Annotated[str | None, typer.Option(help="RL reward: overseer or learned")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML or JSON config file")] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="any config setting, KEY=VALUE (repeatable)"),
    ] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out")] = False,
) -> None:
    """Train a model by IDA (or the supervised baseline); writes metrics, curves, summary."""
    from ida.runs.config import make_config, parse_settings, read_config_file
    from ida.runs.run import train as run_train
    from ida.tasks import get_task

    get_task(task, size)  # fail fast on an unknown task or a bad size
    base = read_config_file(config) if config else {}
    base.update(parse_settings(settings or []))
    cfg = make_config(
        base,
        task=task,
        mode=mode,
        size=size,
        steps=steps,
        seed=seed,
        depth=depth,
        warm_start_steps=warm_start_steps,
        distill=distill,
        overseer=overseer,
        human_budget=human_budget,
        approval=approval,
        amplify=amplify,
        select=select,
        device=device,
    )
    named = f"{cfg.task}-{cfg.mode}" + (f"-{config.stem}" if config else "")
    run_dir = out_dir or Path("runs") / named
    summary = run_train(cfg, run_dir, resume=resume, steps=steps)
    out.print(json.dumps(summary, indent=2))
    out.print(f"run written to {run_dir}/ (curves.png, metrics.jsonl, summary.json)")


@app.command("eval")
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    per_level: Annotated[int, typer.Option(help="fresh questions per level")] = 1024,
    seed: Annotated[int, typer.Option(help="seed of the fresh questions")] = 12345,
    weights: Annotated[
        str | None,
        typer.Option(help="'ema' (the teacher) or 'latest'; default: the run's eval_weights"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Evaluate a run's checkpoint on fresh held-out questions, per difficulty level."""
    import numpy as np

    from ida.evaluate import heldout_set
    from ida.runs.config import EvalWeights
    from ida.runs.run import load_job

    if per_level < 8:
        raise IdaError("--per-level must be at least 8")
    if weights not in (None, *get_args(EvalWeights)):
        choices = " or ".join(map(repr, get_args(EvalWeights)))
        raise IdaError(f"--weights must be {choices}, not {weights!r}")
    job = load_job(run_dir)
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
    if as_json:
        out.print(json.dumps(result))
        return
    table = Table(
        title=f"{run_dir}: {job.task.name} ({job.cfg.mode}), step {job.loop.step}, "
        f"{weights} weights"
    )
    table.add_column("level", justify="right")
    table.add_column("accuracy", justify="right")
    for lv, acc in enumerate(result["accuracy_by_level"]):
        table.add_row(str(lv), f"{acc:.3f}")
    table.add_row("all", f"[bold]{result['accuracy']:.3f}[/bold]")
    out.print(table)
    if "adversary_spearman" in result:
        out.print(
            f"Spearman correlation with the true loss: adversary "
            f"{result['adversary_spearman']:.3f}, model entropy {result['entropy_spearman']:.3f}"
        )


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    level: Annotated[int | None, typer.Option(help="difficulty (default: hardest)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the fresh question")] = 0,
    facts: Annotated[bool, typer.Option(help="also print the instance's facts")] = False,
) -> None:
    """Print one amplification tree for a fresh question: who answered what, and if correctly."""
    from ida.runs.run import load_job
    from ida.show import render_tree

    job = load_job(run_dir)
    out.print(render_tree(job, level, seed, facts))


@app.command()
def audit(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    level: Annotated[int | None, typer.Option(help="difficulty (default: hardest)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the fresh question")] = 0,
    limit: Annotated[int, typer.Option(help="nodes to show")] = 20,
    order: Annotated[str, typer.Option(help="adversary or bfs")] = "adversary",
) -> None:
    """Unfold the model's own tree for a fresh question, most suspect nodes first."""
    from ida.runs.run import load_job
    from ida.show import render_audit

    if order not in ("adversary", "bfs"):
        raise IdaError("--order must be 'adversary' or 'bfs'")
    out.print(render_audit(load_job(run_dir), level, seed, limit, order))


@bench_app.command("engine")
def bench_engine(
    task: Annotated[str, typer.Option(help="task name")] = "permutation_powering",
    size: Annotated[int | None, typer.Option(help="elements per instance")] = None,
    trees: Annotated[int, typer.Option(help="trees amplified at once")] = 4096,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Amplified nodes per second: batched, one at a time, and the model's forward ceiling."""
    from ida.bench import bench_engine as run_bench
    from ida.tasks import get_task

    get_task(task, size)
    if trees < 1:
        raise IdaError("--trees must be at least 1")
    result = run_bench(task, size, trees)
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            out.print(f"{key:28} {value}")


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except IdaError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is intact (resume with --resume)", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as err:
        # usage errors (a bad option or argument); typer has had them from click and from its
        # own copy of it, so they are recognised by what they can do
        if callable(getattr(err, "format_message", None)) and hasattr(err, "exit_code"):
            print(f"error: {err.format_message()} (see ida --help)", file=sys.stderr)
            sys.exit(err.exit_code)
        raise
