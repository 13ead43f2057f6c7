"""Which weights to report: each finished task run's latest weights against its EMA teacher.

    python benchmarks/weights.py                         # runs of benchmarks/tasks.py, size 16
    python benchmarks/weights.py --labels 16 16-reach    # and those of --config reach.toml

Loads every benchmarks/runs/TASK-MODE-LABEL that has finished, evaluates its final checkpoint
twice on the run's own held-out questions (the ones its summary used), once with A's latest
weights and once with the teacher (the running average amplification asks), and prints a
Markdown table; results_weights.json keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from runner import RUNS, finished
from tasks import MODES, TASKS

from ida.core.runs.run import load_job

HERE = Path(__file__).parent


def compare(name: str) -> dict:
    """Held-out accuracy of one run's latest weights and of its EMA teacher."""
    job = load_job(RUNS / name)
    row = {"run": name}
    for weights in ("latest", "ema"):
        result = job.evaluate(weights=weights)
        row[weights] = result["accuracy"]
        row[f"{weights}_by_level"] = result["accuracy_by_level"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--labels", nargs="+", default=["16"])
    args = parser.parse_args()
    names = [
        f"{task}-{mode}-{label}" for label in args.labels for task in args.tasks for mode in MODES
    ]
    rows = [compare(name) for name in names if finished(name)]
    (HERE / "results_weights.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("| run | latest weights | EMA teacher | EMA teacher by level |")
    print("|---|---|---|---|")
    for row in rows:
        levels = " ".join(f"{a:.2f}" for a in row["ema_by_level"])
        print(f"| {row['run']} | {row['latest']:.3f} | {row['ema']:.3f} | {levels} |")


if __name__ == "__main__":
    main()
