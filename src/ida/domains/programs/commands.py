"""The programs domain's commands: ``ida eval``'s and ``ida show``'s views of a programs run,
``ida solve`` (search for programs that fit tasks in a file) and ``ida run`` (run a program).
Added to every ``ida`` call, so this module imports nothing heavy until a command runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ida.core.errors import IdaError

if TYPE_CHECKING:
    from ida.domains.programs.job import ProgramsJob

out = Console(highlight=False)
MOST_PER_LENGTH = 200


def evaluate_run(job: ProgramsJob, seed: int, per_level: int = 64, **_: Any):
    """The run's search on fresh held-out tasks (``per_level`` of each length, at most 200)."""
    from ida.domains.programs.evaluate import yardstick

    e = job.cfg.eval
    tasks = min(per_level, MOST_PER_LENGTH)
    found = yardstick(
        job.distiller.teacher, job.cfg.search, e.lengths, tasks, e.budget, seed, job.device
    )
    result = {"task": job.cfg.task, "step": job.loop.step, "budget": e.budget, **found}
    table = Table(title=f"programs, step {job.loop.step}: {tasks} held-out tasks a length")
    table.add_column("yardstick")
    table.add_column("value", justify="right")
    for key, value in found.items():
        if key != "accuracy_by_level":
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    return result, table


def render_search(job: ProgramsJob, seed: int = 0, level: int | None = None, **_: Any):
    """``ida show``: one search on a fresh held-out task, every edit it simulated."""
    from ida.domains.programs.show import render

    return render(job, seed, level)


def _task_lines(path: Path):
    from ida.domains.programs.deepcoder import DEEPCODER
    from ida.domains.programs.taskfile import read_tasks

    return read_tasks(path, DEEPCODER)


def solve(
    run: Annotated[Path, typer.Argument(help="a programs run directory or checkpoint file")],
    file: Annotated[Path, typer.Argument(help="JSON lines, one task a line")],
    budget: Annotated[int, typer.Option(help="simulator calls per task, at most")] = 10_000,
    seconds: Annotated[float, typer.Option(help="seconds per task, at most")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON line per task")] = False,
) -> None:
    """Search for a program that fits each task of FILE: the program, the calls and seconds it
    took, and whether it also fits the task's held-out examples. A malformed line is an error
    naming it (the other lines are still solved; the exit code is 2)."""
    from ida.core.runs.run import load_job
    from ida.domains.programs.solve import solve_one

    if budget < 1:
        raise IdaError("--budget must be at least 1")
    if seconds <= 0:
        raise IdaError("--seconds must be positive")
    lines = _task_lines(file)
    job = load_job(run)
    bad = 0
    for number, task in lines:
        if isinstance(task, str):
            print(f"error: {file}: {task}", file=sys.stderr)
            bad += 1
            continue
        row = {"line": number, **solve_one(job, task, budget, seconds)}
        if as_json:
            print(json.dumps(row))
        elif row["program"] is None:
            out.print(
                f"line {number}: not found within budget "
                f"({row['calls']:,} calls, {row['seconds']:.2f} s)",
                markup=False,
            )
        else:
            held = {True: "fits held-out", False: "FAILS held-out", None: "no held-out"}
            out.print(
                f"line {number}: {row['program']}   [{row['calls']:,} calls, "
                f"{row['seconds']:.2f} s, {held[row['fits_held_out']]}]",
                markup=False,
            )
    if bad:
        raise typer.Exit(2)


def run(
    program: Annotated[str, typer.Argument(help="e.g. 'a <- [int]; b <- SORT a; c <- HEAD b'")],
    inputs: Annotated[str, typer.Option(help="one example's inputs as JSON: '[[3, 1, 2]]'")],
    trace: Annotated[bool, typer.Option(help="print every variable, not only the output")] = False,
) -> None:
    """Run a program of DeepCoder's DSL on one example's inputs."""
    from ida.domains.programs.deepcoder import DEEPCODER, var_name
    from ida.domains.programs.simulator import run as simulate

    try:
        parsed = DEEPCODER.parse(program)
    except ValueError as err:
        raise IdaError(f"program: {err}") from None
    try:
        values = json.loads(inputs)
    except json.JSONDecodeError as err:
        raise IdaError(f"--inputs is not JSON: {err.msg}") from None
    if not isinstance(values, list):
        raise IdaError("--inputs must be a JSON list with one value per program input")
    try:
        for value in values:
            DEEPCODER.check(value)
        outputs, traces = simulate(DEEPCODER, parsed, [values])
    except ValueError as err:  # a bad input, or the program invalid on it
        raise IdaError(str(err)) from None
    if trace:
        for i, value in enumerate(traces[0]):
            print(f"{var_name(i)} = {json.dumps(value)}")
    else:
        print(json.dumps(outputs[0]))


def add_commands(app: typer.Typer) -> None:
    """``ida solve`` and ``ida run``."""
    app.command()(solve)
    app.command()(run)
