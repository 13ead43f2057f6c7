"""Imitation against RL distillers (best-of-N, REINFORCE, mixed), with the exact overseer and a
systematically biased one: held-out accuracy against steps and overseer calls.

    python benchmarks/distill.py --jobs 2       # 3 tasks x 2 overseers x 4 distillers (+ learned)
    python benchmarks/distill.py --report       # tabulate and plot the finished runs

Settings: benchmarks/distill.toml. Every distiller of a task and overseer sees the same amplified
rounds (same questions, same overseer calls) and takes the same number of gradient steps, so
compute and overseer budget are equal; only how A learns from the rounds differs. The extra
``learned`` runs replace the overseer's scores by a learned approval model and let the overseer
judge only a quarter of each round's questions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from runner import finished, matrix_main, metrics, train_run  # noqa: E402

HERE = Path(__file__).parent
TASKS = ["union_find", "permutation_powering", "shortest_path"]
DISTILLERS = ["imitation", "best_of_n", "reinforce", "mixed"]
OVERSEERS = ["exact", "biased"]
LEARNED = ["--approval", "learned", "--set", "judge_share=0.25"]
COLORS = dict(imitation="C0", best_of_n="C1", reinforce="C2", mixed="C3", learned="C4")


def jobs(tasks: list[str]) -> list[tuple[str, str, str]]:
    """(task, overseer, distiller) triples; distiller 'learned' is REINFORCE on learned approval."""
    out = [(t, o, d) for t in tasks for o in OVERSEERS for d in DISTILLERS]
    return out + [(t, "exact", "learned") for t in tasks]


def name(task: str, overseer: str, distill: str) -> str:
    return f"distill-{task}-{overseer}-{distill}"


def run(job: tuple[str, str, str], args: argparse.Namespace) -> dict:
    task, overseer, distill = job
    cmd = [task, "--config", args.config, "--overseer", overseer, "--device", args.device]
    if distill == "learned":
        cmd += ["--distill", "reinforce", *LEARNED]
    else:
        cmd += ["--distill", distill]
    return train_run(name(*job), cmd, args.jobs)


def plot(task: str) -> None:
    fig, (by_step, by_calls) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for overseer, style in [("exact", "-"), ("biased", "--")]:
        for distill in [*DISTILLERS, "learned"]:
            records = metrics(name(task, overseer, distill))
            if not records:
                continue
            label = f"{distill} ({overseer})"
            acc = [r["accuracy"] for r in records]
            kw = dict(color=COLORS[distill], ls=style, label=label, lw=1.5)
            by_step.plot([r["step"] for r in records], acc, **kw)
            by_calls.plot([r["overseer_calls"] for r in records], acc, **kw)
    by_step.set(xlabel="distillation step", ylabel="held-out accuracy (mean over levels)")
    by_calls.set(xlabel="overseer calls", xscale="log")
    for ax in (by_step, by_calls):
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1.02)
    if by_step.lines:
        by_step.legend(fontsize=7, ncol=2)
    fig.suptitle(f"{task}: distillers, exact (solid) and biased (dashed) overseer")
    fig.tight_layout()
    fig.savefig(HERE / f"distill_{task}.png", dpi=100)
    plt.close(fig)


def report(tasks: list[str]) -> None:
    rows = []
    for job in jobs(tasks):
        summary = finished(name(*job))
        if summary is None:
            continue
        records = metrics(name(*job))
        best = max(r["accuracy"] for r in records)
        rows.append({**summary, "job": job, "best": best})
    (HERE / "results_distill.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("| task | overseer | distiller | accuracy | best | by level | KL | H calls | min |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        task, overseer, distill = r["job"]
        levels = " ".join(f"{a:.2f}" for a in r["accuracy_by_level"])
        kl = f"{r['kl']:.2f}" if "kl" in r else "-"
        print(
            f"| {task} | {overseer} | {distill} | {r['accuracy']:.3f} | {r['best']:.3f} "
            f"| {levels} | {kl} | {r['overseer_calls']:,} | {r['train_seconds'] / 60:.1f} |"
        )
    for task in {r["job"][0] for r in rows}:
        plot(task)


def main() -> None:
    matrix_main(__doc__, TASKS, HERE / "distill.toml", jobs, run, report)


if __name__ == "__main__":
    main()
