"""Shared by the benchmark scripts: run (or resume) one ``ida train`` job in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
