"""Adversarial IDA: held-out accuracy against overseer calls for ways of choosing where H is
asked, the calls each needs to reach an accuracy, overseer errors, and auditing.

    python benchmarks/adversarial.py --jobs 2     # train every method on three tasks
    python benchmarks/adversarial.py --report     # tables, plots, and the audit benchmark

Settings: benchmarks/adversarial.toml. Methods (``--amplify adversarial`` unless said):
plain (the paper's scheme: H decomposes every training question, the model answers every
subquestion), all (H at every node: HCH), adversary (one subquestion per fan-out by
Gumbel-max on the adversary's scores), random (one, uniformly), uncertainty (one, by the
model's entropy), thresh-A (each subquestion, and each training question, to H with
probability sigmoid((tau - Adv) / A)), thresh-0.2-own (thresh-0.2, plus distillation on the
model's own tree, 4 questions per instance per round, and Amplify(H', A) standing in for H where
Adv >= -0.05), learned (H', the learned imitation of H's fan-out/fan-in, decomposes questions
once it is accurate; H on a budget of 10^4 calls, the paper's; learned-40k: 4 x 10^4), and
supervised (labels from the exact solver).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from runner import finished, matrix_main, metrics, train_run  # noqa: E402

HERE = Path(__file__).parent
TASKS = ["union_find", "wildcard_search", "shortest_path"]
ONE_AT_A_TIME = {"union_find", "permutation_powering"}  # H asks one subquestion at a time
ADV = ["--amplify", "adversarial"]
METHODS = {
    "plain": [],
    "all": [*ADV, "--select", "all"],
    "adversary": [*ADV, "--select", "adversary"],
    "random": [*ADV, "--select", "random"],
    "uncertainty": [*ADV, "--select", "uncertainty"],
    "thresh-0.05": [*ADV, "--set", "per_subquestion=true", "--set", "screen_roots=true"]
    + ["--set", "alpha=0.05"],
    "thresh-0.2": [*ADV, "--set", "per_subquestion=true", "--set", "screen_roots=true"]
    + ["--set", "alpha=0.2"],
    "learned": ["--overseer", "learned", "--human-budget", "10000"],
    "learned-40k": ["--overseer", "learned", "--human-budget", "40000"],
    "thresh-0.2-own": [*ADV, "--set", "per_subquestion=true", "--set", "screen_roots=true"]
    + ["--set", "alpha=0.2", "--set", "confidence=-0.05", "--set", "own_tree=4"],
    "supervised": ["--mode", "supervised"],
}
NOISE_TASK, NOISE_METHODS, NOISES = "union_find", ("plain", "thresh-0.2"), (0.01, 0.1)
THRESHOLDS = (0.95, 0.8, 0.6, 0.5)
ONE_OF_TWO = ("adversary", "random", "uncertainty")  # the same as "all" with one subquestion


SHORT = {"shortest_path": ["plain", "adversary", "random", "thresh-0.05", "learned", "supervised"]}
SHORT_STEPS = 400  # shortest_path: fewer methods and steps, for the 2-core time budget


ONLY = {"learned-40k": {"wildcard_search"}}  # where H' did not learn within 10^4 calls


def jobs(tasks: list[str]) -> list[tuple[str, str, float]]:
    out = [
        (t, m, 0.0)
        for t in tasks
        for m in SHORT.get(t, METHODS)
        if not (t in ONE_AT_A_TIME and m in ONE_OF_TWO) and t in ONLY.get(m, {t})
    ]
    noise = [(NOISE_TASK, m, p) for m in NOISE_METHODS for p in NOISES]
    first = [j for j in out if j[0] == NOISE_TASK]
    return first + noise + [j for j in out if j[0] != NOISE_TASK]


def name(task: str, method: str, noise: float) -> str:
    return f"adv-{task}-{method}" + (f"-noise{noise}" if noise else "")


def run(job: tuple[str, str, float], args: argparse.Namespace) -> dict:
    task, method, noise = job
    cmd = [task, "--config", args.config, "--device", args.device, *METHODS[method]]
    if noise:
        cmd += ["--overseer", "noisy", "--set", f"noise_rate={noise}"]
    if task in SHORT:
        cmd += ["--steps", str(SHORT_STEPS)]
    return train_run(name(*job), cmd, args.jobs)


def cost(record: dict) -> int:
    return record["labels"] or record["overseer_calls"]


def calls_to_reach(records: list[dict], threshold: float) -> int | None:
    """Overseer calls (labels, for supervised) at the first evaluation at or above threshold."""
    return next((cost(r) for r in records if r["accuracy"] >= threshold), None)


def plot(task: str) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, method in enumerate(METHODS):
        records = metrics(name(task, method, 0.0))
        if records:
            ls = "--" if method == "supervised" else "-"
            ax.plot(
                [cost(r) for r in records],
                [r["accuracy"] for r in records],
                ls,
                color=f"C{i}",
                label=method + (" (labels)" if method == "supervised" else ""),
            )
    ax.set(
        xscale="log",
        xlabel="overseer calls (labels for supervised)",
        ylabel="held-out accuracy (mean over levels)",
        ylim=(0, 1.02),
        title=f"{task} (size 8): where to ask H",
    )
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / f"adversarial_{task}.png", dpi=100)
    plt.close(fig)


def audit(task: str, questions: int = 200) -> dict | None:
    """Inspections until an injected error is found: adversary best-first vs breadth-first."""
    from ida.core.runs.run import load_job
    from ida.domains.qa.audit import inject_error, inspection_order, score_nodes, unfold

    run_dir = HERE / "runs" / name(task, "adversary", 0.0)
    if not (run_dir / "summary.json").exists():
        return None
    job = load_job(run_dir)
    rng = np.random.default_rng(0)
    found = {"bfs": [], "adversary": [], "oracle": []}
    sizes = []
    for _ in range(questions):
        inst = job.task.sample_instance(rng)
        q = job.task.sample_question(rng, inst, job.task.num_levels - 1)
        truth = lambda items, inst=inst: [job.task.solve(inst, x) for _, x in items]  # noqa: E731
        (root,) = unfold(job.task, [inst], [(0, q)], truth)
        target = inject_error(job.task, inst, root, rng)
        if target is None:
            continue
        score_nodes(job, [inst], [root], [0])
        sizes.append(len(list(root.walk())))
        oracle = lambda n, inst=inst: -float(n.answer != job.task.solve(inst, n.question))  # noqa: E731
        for order, key in (("bfs", None), ("adversary", lambda n: n.score), ("adversary", oracle)):
            nodes = inspection_order(root, key or (lambda n: 0.0), order)
            label = "oracle" if key is oracle else order
            found[label].append(nodes.index(target) + 1)
    return {"task": task, "trees": len(sizes), "mean_nodes": float(np.mean(sizes))} | {
        k: float(np.mean(v)) for k, v in found.items()
    }


def report(tasks: list[str]) -> None:
    rows = []
    for job in jobs(tasks):
        summary = finished(name(*job))
        if summary is None:
            continue
        records = metrics(name(*job))
        reach = {t: calls_to_reach(records, t) for t in THRESHOLDS}
        rows.append(
            {**summary, "job": job, "reach": reach, "best": max(r["accuracy"] for r in records)}
        )
    (HERE / "results_adversarial.json").write_text(json.dumps(rows, indent=2) + "\n")
    head = " | ".join(f"calls to {t:.0%}" for t in THRESHOLDS)
    print(
        f"| task | method | H error | accuracy | best | {head} | calls (labels) | Adv/entropy rho |"
    )
    print("|---|---|---|---|---|" + "---|" * len(THRESHOLDS) + "---|---|")
    for r in rows:
        task, method, noise = r["job"]
        reach = " | ".join(f"{r['reach'][t]:,}" if r["reach"][t] else "-" for t in THRESHOLDS)
        rho = "-"
        if "adversary_spearman" in r:
            rho = f"{r['adversary_spearman']:.2f} / {r['entropy_spearman']:.2f}"
        print(
            f"| {task} | {method} | {noise:g} | {r['accuracy']:.3f} | {r['best']:.3f} | {reach} "
            f"| {cost(r):,} | {rho} |"
        )
    for task in {r["job"][0] for r in rows}:
        plot(task)
    print("\n| task | trees | mean nodes | BFS | adversary | perfect adversary |")
    print("|---|---|---|---|---|---|")
    for task in tasks:
        if task in ONE_AT_A_TIME or task == "sequential_assignments":
            continue  # later subquestions depend on earlier answers, so errors do not flow up
        result = audit(task)
        if result:
            print(
                f"| {task} | {result['trees']} | {result['mean_nodes']:.1f} | {result['bfs']:.1f} "
                f"| {result['adversary']:.1f} | {result['oracle']:.1f} |"
            )


def main() -> None:
    matrix_main(__doc__, TASKS, HERE / "adversarial.toml", jobs, run, report)


if __name__ == "__main__":
    main()
