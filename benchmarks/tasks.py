"""IDA against the supervised baseline on the five tasks: accuracy, wall time, overseer calls.

    python benchmarks/tasks.py --jobs 2            # every task on its own settings, both modes
    python benchmarks/tasks.py --config benchmarks/plain.toml   # the model's plain defaults
    python benchmarks/tasks.py --tasks union_find --size 64 --device cuda
    python benchmarks/tasks.py --config benchmarks/sink_prior.toml   # other settings

Runs go to benchmarks/runs/TASK-MODE-LABEL (resumed if interrupted), LABEL being the size, then
with ``--config`` the config file's name, with ``--seed N`` (N > 0) ``seedN`` and with
``--steps N`` ``Nsteps`` (``16-answer_match_focus-seed1-4000steps``); the table is printed as
Markdown and saved with per-task curve plots (benchmarks/curves_TASK[-SUFFIX].png) and
results_tasks_LABEL.json.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from runner import finished, metrics, train_run  # noqa: E402

HERE = Path(__file__).parent
TASKS = [
    "permutation_powering",
    "sequential_assignments",
    "wildcard_search",
    "shortest_path",
    "union_find",
]
MODES = ["ida", "supervised"]


def run(task: str, mode: str, args: argparse.Namespace) -> dict:
    cmd = [task, "--mode", mode, "--size", str(args.size), "--device", args.device]
    cmd += ["--seed", str(args.seed)]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    if args.config:
        cmd += ["--config", args.config]
    return train_run(f"{task}-{mode}-{label(args)}", cmd, args.jobs)


def suffix(args: argparse.Namespace) -> str:
    """``-NAME`` for a config file NAME.toml, ``-seedN`` for a seed N other than 0,
    ``-Nsteps`` for ``--steps N`` and ``-TAG`` for ``--tag TAG``."""
    config = f"-{Path(args.config).stem}" if args.config else ""
    seed = f"-seed{args.seed}" if args.seed else ""
    tag = f"-{args.tag}" if args.tag else ""
    return config + seed + (f"-{args.steps}steps" if args.steps else "") + tag


def label(args: argparse.Namespace) -> str:
    """What tells a table's runs apart: the size and the suffix (``16-answer_match-seed1``)."""
    return f"{args.size}{suffix(args)}"


def plot(task: str, args: argparse.Namespace) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, style in zip(MODES, ["-", "--"], strict=True):
        records = metrics(f"{task}-{mode}-{label(args)}")
        if records:
            ax.plot(
                [r["step"] for r in records], [r["accuracy"] for r in records], style, label=mode
            )
    ax.set(
        xlabel="step",
        ylabel="held-out accuracy (all levels)",
        ylim=(0, 1.02),
        title=f"{task} (size {args.size}{suffix(args).replace('-', ', ')})",
    )
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / f"curves_{task}{suffix(args)}.png", dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=MODES)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", default=None)
    parser.add_argument("--tag", default=None, help="names the runs and results apart")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="only tabulate finished runs")
    args = parser.parse_args()
    jobs = [(task, mode) for task in args.tasks for mode in args.modes]
    if not args.report:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: run(*job, args), jobs))
    summaries = {}
    for task, mode in jobs:
        if summary := finished(f"{task}-{mode}-{label(args)}"):
            summaries[task, mode] = summary
    for task in {task for task, _ in summaries}:
        plot(task, args)
    (HERE / f"results_tasks_{label(args)}.json").write_text(
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
