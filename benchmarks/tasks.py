"""IDA against the supervised baseline on the five tasks: accuracy, wall time, overseer calls.

    python benchmarks/tasks.py --jobs 2            # every task, both modes, 2 runs at a time
    python benchmarks/tasks.py --tasks union_find --size 64 --device cuda

Runs go to benchmarks/runs/ (resumed if interrupted); the table is printed as Markdown and
saved with per-task curve plots (benchmarks/curves_TASK.png) and results_tasks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
TASKS = [
    "permutation_powering",
    "sequential_assignments",
    "wildcard_search",
    "shortest_path",
    "union_find",
]


def run(task: str, mode: str, args: argparse.Namespace) -> dict:
    out = HERE / "runs" / f"{task}-{mode}-{args.size}"
    cmd = [
        sys.executable,
        "-m",
        "ida",
        "train",
        task,
        "--mode",
        mode,
        "--size",
        str(args.size),
        "--out",
        str(out),
        "--device",
        args.device,
        "--seed",
        str(args.seed),
    ]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    if args.config:
        cmd += ["--config", args.config]
    if (out / "summary.json").exists():
        return json.loads((out / "summary.json").read_text())
    if (out / "config.json").exists():
        cmd += ["--resume"]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // args.jobs)))
    with open(HERE / "runs" / f"{task}-{mode}-{args.size}.log", "w") as log:
        subprocess.run(cmd, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    return json.loads((out / "summary.json").read_text())


def plot(task: str, size: int) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, style in [("ida", "-"), ("supervised", "--")]:
        path = HERE / "runs" / f"{task}-{mode}-{size}" / "metrics.jsonl"
        if path.exists():
            records = [json.loads(line) for line in path.read_text().splitlines()]
            ax.plot(
                [r["step"] for r in records], [r["accuracy"] for r in records], style, label=mode
            )
    ax.set(
        xlabel="step",
        ylabel="held-out accuracy (all levels)",
        ylim=(0, 1.02),
        title=f"{task} (size {size})",
    )
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / f"curves_{task}.png", dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", default=None)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="only tabulate finished runs")
    args = parser.parse_args()
    (HERE / "runs").mkdir(exist_ok=True)
    jobs = [(task, mode) for task in args.tasks for mode in ("ida", "supervised")]
    if not args.report:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: run(*job, args), jobs))
    summaries = {}
    for task, mode in jobs:
        path = HERE / "runs" / f"{task}-{mode}-{args.size}" / "summary.json"
        if path.exists():
            summaries[task, mode] = json.loads(path.read_text())
    for task in {task for task, _ in summaries}:
        plot(task, args.size)
    (HERE / f"results_tasks_{args.size}.json").write_text(
        json.dumps(list(summaries.values()), indent=2) + "\n"
    )
    print(
        "| task | size | mode | accuracy | accuracy by level | minutes | overseer calls | labels |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (task, mode), s in summaries.items():
        levels = " ".join(f"{a:.2f}" for a in s["accuracy_by_level"])
        print(
            f"| {task} | {s['size']} | {mode} | {s['accuracy']:.3f} | {levels} "
            f"| {s['train_seconds'] / 60:.1f} | {s['overseer_calls']:,} | {s['labels']:,} |"
        )


if __name__ == "__main__":
    main()
