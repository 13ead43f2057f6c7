"""Program induction: the trained IDA search against its ablations and three baselines.

    ida train programs --out runs/programs
    python benchmarks/program_search.py runs/programs --json benchmarks/results_program_search.json

On held-out tasks of the domain's own generator (programs the training generator never draws,
two more examples each that no search sees), at lengths 3, 4 and 5 (the curriculum's
``max_length``, 4 by default, is the longest program trained on), each method searches every
task alone, one task at a time on one thread (``--workers`` processes side by side), until it
finds a program, spends its budget of simulator calls or its ``--seconds``. The shares solved
within 10^3, 10^4 and 10^5 calls and within 1 and 60 seconds come from the call count and the
seconds at which each task was solved; ``--seconds`` (300 by default) is only a safety cap, set
above what the call budget takes so that it never cuts the calls columns short.

Methods:
- ``ida``: the run's search (its teacher net; similarity metric, forward model, sub-goals);
- ``no_similarity``, ``no_forward``, ``no_subgoals``: one world-model part off;
- ``no_distillation``: the same search with the net as it was before any round (the run's seed);
- ``policy_alone``: the net's policy with every world-model part off, at most 100 calls, on
  lengths 1 to 3;
- ``bottom_up``, ``depth_first``: enumeration, with and without equivalence pruning, searching
  programs up to the task's own length (they are told it, the learned search is not);
- ``deepcoder``: DeepCoder's attribute net (trained here for ``--deepcoder-steps`` steps on the
  generator's programs: supervised, unlike IDA) with sort-and-add enumeration to the task's
  length.

The ablations and ``no_distillation`` get ``--ablation-budget`` calls (the goals are at 10^4).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ida.core.runs.run import load_job  # noqa: E402
from ida.domains.programs.amplify import problem_of, solve  # noqa: E402
from ida.domains.programs.baselines import run_baseline, train_attributes  # noqa: E402
from ida.domains.programs.deepcoder import DEEPCODER  # noqa: E402
from ida.domains.programs.job import make_net  # noqa: E402
from ida.domains.programs.tasks import fits, held_out_set  # noqa: E402

SEARCHES = {
    "ida": {},
    "no_similarity": {"similarity": False},
    "no_forward": {"forward_model": False},
    "no_subgoals": {"subgoals": 0},
    "no_distillation": {},
    "policy_alone": {"similarity": False, "forward_model": False, "subgoals": 0},
}
BASELINES = ("bottom_up", "depth_first", "deepcoder")
CALLS = (1_000, 10_000, 100_000)
SECONDS = (1.0, 60.0)
_STATE: dict = {}


def _setup(run: str, deepcoder_path: str | None) -> None:
    torch.set_num_threads(1)
    job = load_job(run)
    _STATE["job"] = job
    torch.manual_seed(job.cfg.seed)  # the net as it was before the first round
    _STATE["initial"] = make_net(job.cfg).eval()
    if deepcoder_path:
        _STATE["deepcoder"] = torch.load(deepcoder_path, weights_only=False).eval()


def _one(item: tuple[str, int, int, float]) -> dict:
    """One method on one task, alone: solved?, calls, seconds, held-out fit."""
    method, index, budget, seconds = item
    job, tasks = _STATE["job"], _STATE["tasks"]
    task = tasks[index]
    language = DEEPCODER
    started = time.perf_counter()
    if method in SEARCHES:
        net = _STATE["initial"] if method == "no_distillation" else job.distiller.teacher
        s = job.cfg.search.model_copy(update=SEARCHES[method])
        (found,), _ = solve(language, net, [task], s, budget, "cpu", seconds, keep=False)
    else:
        problem = problem_of(language, task)
        net = _STATE.get("deepcoder")
        found = run_baseline(method, language, problem, budget, seconds, task.length, net)
    program = found.program
    return {
        "method": method,
        "task": index,
        "length": task.length,
        "solved": program is not None,
        "calls": found.calls,
        "seconds": round(time.perf_counter() - started, 4),
        "fits_held_out": None if program is None else fits(language, program, task.held_out),
        "program": None if program is None else language.format(program, inline=True),
    }


def _init(run, deepcoder_path, tasks):
    _setup(run, deepcoder_path)
    _STATE["tasks"] = tasks


def summarize(rows: list[dict], method: str, lengths: list[int]) -> dict:
    out = {}
    for n in lengths:
        mine = [r for r in rows if r["method"] == method and r["length"] == n]
        if not mine:
            continue
        solved = [r for r in mine if r["solved"]]
        entry = {"tasks": len(mine)}
        for c in CALLS:
            entry[f"calls<={c}"] = round(sum(r["calls"] <= c for r in solved) / len(mine), 3)
        for sec in SECONDS:
            entry[f"seconds<={sec:g}"] = round(
                sum(r["seconds"] <= sec for r in solved) / len(mine), 3
            )
        fit = [r["fits_held_out"] for r in solved]
        entry["fits_held_out"] = round(float(np.mean(fit)), 3) if fit else None
        entry["max_calls"] = max(r["calls"] for r in mine)
        out[f"T={n}"] = entry
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="a programs run directory")
    p.add_argument("--tasks", type=int, default=30, help="held-out tasks per length")
    p.add_argument("--lengths", type=int, nargs="+", default=[3, 4, 5])
    p.add_argument("--budget", type=int, default=100_000, help="calls per task (ida, baselines)")
    p.add_argument("--ablation-budget", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=300.0, help="seconds per task, at most")
    p.add_argument("--methods", default=",".join([*SEARCHES, *BASELINES]))
    p.add_argument("--deepcoder-steps", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=2024, help="seed of the held-out tasks")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args()
    methods = args.methods.split(",")
    tasks = held_out_set(DEEPCODER, args.lengths, args.tasks, args.seed)
    short = held_out_set(DEEPCODER, [1, 2, 3], args.tasks, args.seed + 1)
    started = time.perf_counter()
    deepcoder_path = None
    recall = None
    if "deepcoder" in methods:
        from ida.domains.programs.baselines import recall_at

        torch.set_num_threads(2)
        net = train_attributes(DEEPCODER, args.deepcoder_steps, np.random.default_rng(0))
        recall = recall_at(DEEPCODER, net, tasks, 5)
        deepcoder_path = os.path.join(tempfile.mkdtemp(), "deepcoder.pt")
        torch.save(net, deepcoder_path)
        print(f"deepcoder net: {args.deepcoder_steps} steps, top-5 recall {recall:.2f}", flush=True)
    rows: list[dict] = []
    for group, group_tasks in (("main", tasks), ("short", short)):
        items = []
        for method in methods:
            if (method == "policy_alone") != (group == "short"):
                continue
            budget = {"policy_alone": 100}.get(method, args.budget)
            if method in ("no_similarity", "no_forward", "no_subgoals", "no_distillation"):
                budget = args.ablation_budget
            items += [(method, i, budget, args.seconds) for i in range(len(group_tasks))]
        if not items:
            continue
        ctx = get_context("fork")
        init = (args.run, deepcoder_path, group_tasks)
        with ctx.Pool(args.workers, initializer=_init, initargs=init) as pool:
            for k, row in enumerate(pool.imap_unordered(_one, items, chunksize=1), 1):
                rows.append({**row, "group": group})
                if k % 20 == 0 or k == len(items):
                    print(
                        f"{group}: {k}/{len(items)} ({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
    results = {}
    for method in methods:
        lengths = [1, 2, 3] if method == "policy_alone" else args.lengths
        results[method] = summarize(rows, method, lengths)
    job = load_job(args.run)
    report = {
        "run": args.run,
        "steps": job.loop.step,
        "train_seconds": json.loads((Path(args.run) / "summary.json").read_text()).get(
            "train_seconds"
        )
        if (Path(args.run) / "summary.json").exists()
        else None,
        "tasks_per_length": args.tasks,
        "budget": args.budget,
        "ablation_budget": args.ablation_budget,
        "seconds": args.seconds,
        "deepcoder_top5_recall": recall,
        "results": results,
        "rows": rows,
        "benchmark_seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
