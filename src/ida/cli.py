"""The ``ida`` command: list tasks, train, evaluate, show what a run's amplification does; each
domain adds its own subcommands (``ida audit``, ``ida bench engine``, ...)."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ida.core.errors import IdaError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Iterated Distillation and Amplification: A <- Distill(Amplify(H, A)).",
)
out = Console()


@app.command()
def tasks() -> None:
    """List the tasks of every domain, one line each."""
    from ida.core.registry import domains

    for domain in domains().values():
        for name, description in domain.tasks().items():
            out.print(
                f"[bold]{name:24}[/bold] {description}  [dim]({domain.name})[/dim]", soft_wrap=True
            )


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="task name (see `ida tasks`)")],
    mode: Annotated[str | None, typer.Option(help="ida or supervised")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="run directory (default: runs/TASK[-MODE][-CONFIG's name])"),
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
        str | None,
        typer.Option(
            help="exact, biased, noisy, wasteful, learned (H'), human (the workbench); "
            "text: script, noisy, llm (a language model) or human"
        ),
    ] = None,
    human_budget: Annotated[
        int | None, typer.Option(help="overseer learned or human: calls to H in all, at most")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="overseer human: the workbench's database URL (sqlite:///FILE)"),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(help="overseer llm: an OpenAI-compatible endpoint (http://HOST:PORT/v1)"),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option("--model", help="overseer llm: the model's name there")
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
    workers: Annotated[
        int, typer.Option(help="processes that expand amplification (0: in this one)")
    ] = 0,
    backend: Annotated[str, typer.Option(help="where workers run: local or ray")] = "local",
    address: Annotated[
        str | None, typer.Option(help="backend ray: the cluster's address (default: start one)")
    ] = None,
    lag: Annotated[
        int, typer.Option(help="rounds the workers may expand ahead, with older weights")
    ] = 0,
) -> None:
    """Train a model by IDA (or the supervised baseline); writes metrics, curves, summary.

    The task's recommended settings come first; --config, --set and the options above override
    them, in that order."""
    from ida.core.registry import domain_of
    from ida.core.runs.config import merge, parse_settings, read_config_file
    from ida.core.runs.run import train as run_train
    from ida.workers import WorkerSettings, start_workers

    domain = domain_of(task)  # fail fast on an unknown task
    pool = WorkerSettings(workers, backend, address, lag)
    pool.check()
    base = merge(read_config_file(config) if config else {}, parse_settings(settings or []))
    options = dict(
        mode=mode,
        size=size,
        steps=steps,
        seed=seed,
        depth=depth,
        warm_start_steps=warm_start_steps,
        distill=distill,
        overseer=overseer,
        human_budget=human_budget,
        db=db,
        endpoint=endpoint,
        llm_model=llm_model,
        approval=approval,
        amplify=amplify,
        select=select,
        device=device,
    )
    base.update({k: v for k, v in options.items() if v is not None})
    cfg = domain.configure(task, base)
    mode = getattr(cfg, "mode", None)
    named = cfg.task + (f"-{mode}" if mode else "") + (f"-{config.stem}" if config else "")
    run_dir = out_dir or Path("runs") / named
    if getattr(cfg, "overseer", None) == "human" and cfg.db_run is None:
        cfg = cfg.model_copy(update={"db_run": str(run_dir)})  # its name in the workbench
    summary = run_train(
        cfg, run_dir, resume=resume, steps=steps, workers=partial(start_workers, pool)
    )
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
    from ida.core.registry import domain_of
    from ida.core.runs.run import load_job

    job = load_job(run_dir)
    result, rendered = domain_of(job.cfg.task).evaluate(
        job, seed=seed, per_level=per_level, weights=weights
    )
    if as_json:
        out.print(json.dumps(result))
        return
    out.print(f"{run_dir}:")
    out.print(rendered)


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    level: Annotated[int | None, typer.Option(help="difficulty (default: hardest)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the fresh question")] = 0,
    facts: Annotated[bool, typer.Option(help="also print the instance's facts")] = False,
) -> None:
    """Print one amplification tree for a fresh question: who answered what, and if correctly."""
    from ida.core.registry import domain_of
    from ida.core.runs.run import load_job

    job = load_job(run_dir)
    out.print(domain_of(job.cfg.task).render(job, level=level, seed=seed, facts=facts))


def _add_workbench() -> None:
    """``ida workbench``: its module imports only typer; FastAPI and SQLAlchemy are imported
    when one of its commands runs (and their absence is a one-line error then)."""
    from ida.overseers.human.commands import workbench

    app.add_typer(workbench, name="workbench")


_add_workbench()


def _add_domain_commands() -> None:
    """Each domain's own subcommands (``ida audit``, ``ida bench engine``, ...)."""
    from ida.core.registry import domains

    for domain in domains().values():
        if domain.commands is not None:
            domain.commands(app)


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        _add_domain_commands()
        code = app(standalone_mode=False)  # a command's typer.Exit(N) comes back as N
        if isinstance(code, int) and code:
            sys.exit(code)
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
