"""Shared by the benchmark scripts: run (or resume) one ``ida train`` job in a subprocess, and
the command line of the probes that read a finished run's model."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RUNS = Path(__file__).parent / "runs"


def train_run(name: str, train_args: list[str], jobs: int = 1) -> dict:
    """``ida train`` into benchmarks/runs/NAME (resumed if interrupted, skipped if finished);
    its summary. Output goes to benchmarks/runs/NAME.log; threads are split between ``jobs``."""
    out = RUNS / name
    if (out / "summary.json").exists():
        return json.loads((out / "summary.json").read_text())
    RUNS.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "ida", "train", *train_args, "--out", str(out)]
    if (out / "config.json").exists():
        cmd.append("--resume")
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // jobs)))
    with open(RUNS / f"{name}.log", "w") as log:
        subprocess.run(cmd, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    return json.loads((out / "summary.json").read_text())


def finished(name: str) -> dict | None:
    """The summary of a finished run, if there is one."""
    path = RUNS / name / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def metrics(name: str) -> list[dict]:
    """The evaluation records of a run (empty if it has none yet)."""
    path = RUNS / name / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def matrix_main(
    doc: str,
    tasks: list[str],
    config: Path,
    jobs: Callable[[list[str]], list],
    run: Callable[[object, argparse.Namespace], dict],
    report: Callable[[list[str]], None],
) -> None:
    """The command line of a benchmark over a matrix of runs: train ``jobs(tasks)`` (``--jobs``
    at a time, skipping finished ones), then ``report``; ``--report`` only reports."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=tasks)
    parser.add_argument("--config", default=str(config))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="only tabulate finished runs")
    args = parser.parse_args()
    if not args.report:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: run(job, args), jobs(args.tasks)))
    report(args.tasks)


def probe_job(run_dir: str | Path, task: str):
    """A finished run's job (``ida.core.runs.job.Job``), which must be a run of ``task``; a one-line
    exit otherwise."""
    from ida.core.errors import IdaError
    from ida.core.runs.run import load_job

    try:
        job = load_job(run_dir)
    except IdaError as err:
        raise SystemExit(f"error: {err}") from None
    if job.task.name != task:
        raise SystemExit(f"{run_dir} is a {job.task.name} run; this probe reads {task}")
    return job


def probe_main(
    doc: str, run_help: str, probe: Callable[[str, int], dict], markdown: Callable[[dict], str]
) -> None:
    """A probe's command line: RUN [--instances N] [--json FILE]; prints ``markdown(probe(...))``
    and with ``--json`` also writes the numbers."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("run", help=run_help)
    parser.add_argument("--instances", type=int, default=64)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    result = probe(args.run, args.instances)
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
