"""Amplification on workers: trees and games per second in the learner, on 1 and 2 local worker
processes and on Ray, side by side in one run; each round's overhead; and the prediction of
how throughput scales with workers, from the measured constants.

    python benchmarks/workers.py --json benchmarks/results_workers.json

Each setting trains the same run for ``--rounds`` rounds (after one round of warm-up, and the
workers' start-up, which is reported apart): amplify a round, then the run's distillation steps
for it. Per round it times the expand (where it runs in the learner), the learner's own work
(propose, absorb, distillation: what no worker can take) and, with workers, the wall clock of
the round and what shipping weights and gathering trees cost.

The model: with W workers and the next round expanded while the learner distils (``--lag 1``),
a round takes max(E / W + c, L): E the expand's time on one worker, c the per-round cost of
shipping and gathering, L the learner's own time. Throughput grows with W until W* = E / (L - c)
workers, where the learner becomes the limit. Run with ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ida.core.registry import domain_of
from ida.domains.qa.experience import UNJUDGED
from ida.workers import Pool
from ida.workers.local import LocalBackend

RUNS = {  # each run's own settings, on the CPU
    "union_find": {"device": "cpu"},
    "tic_tac_toe": {"device": "cpu"},
}


def units(counts: Counter, experience: Any) -> int:
    """What a round made: games (self-play), or amplified trees (its judged questions)."""
    if "games" in counts:
        return counts["games"]
    return int((experience.targets != UNJUDGED).sum())


def measure(task: str, rounds: int, backend: str | None, workers: int, lag: int) -> dict:
    domain = domain_of(task)
    cfg = domain.configure(task, RUNS[task])
    job = domain.build(cfg)
    loop, rng = job.loop, np.random.default_rng(0)
    steps = loop.amplify_every
    pool, started = None, time.perf_counter()
    if backend == "local":
        pool = Pool(LocalBackend(cfg, workers), lag)
    elif backend == "ray":
        from ida.workers.on_ray import RayBackend

        pool = Pool(RayBackend(cfg, workers), lag)
    start_seconds = time.perf_counter() - started
    timed: Counter = Counter()
    made = 0
    try:
        for r in range(rounds + 1):
            before = Counter(loop.amplifier.counts)
            tick = time.perf_counter()
            if pool is None:
                work = loop.amplifier.propose(rng)
                t1 = time.perf_counter()
                trees = loop.amplifier.expand(loop.distiller.teacher, work)
                t2 = time.perf_counter()
                experience = loop.amplifier.absorb(work, trees, rng)
                expand = t2 - t1
            else:
                experience = pool.round(loop.amplifier, loop.distiller.teacher, rng)
                expand = 0.0
            amplified = time.perf_counter() - tick
            loop.distiller.add(experience)
            for _ in range(steps):
                loop.distiller.step(rng)
            total = time.perf_counter() - tick
            if r == 0:
                report0 = pool.report() if pool else {}
                continue  # warm-up
            made += units(loop.amplifier.counts - before, experience)
            timed.update(amplify=amplified, expand=expand, total=total)
            timed["learner"] += total - amplified + (amplified - expand if pool is None else 0)
        report = pool.report() if pool else {}
    finally:
        if pool is not None:
            pool.close()
    per_round = {k: v / rounds for k, v in timed.items()}
    out: dict[str, Any] = {
        "task": task,
        "backend": backend or "learner",
        "workers": workers,
        "lag": lag,
        "torch_threads": torch.get_num_threads(),
        "units_per_round": made / rounds,
        "units_per_second_amplify": round(made / timed["amplify"], 1),
        "units_per_second_total": round(made / timed["total"], 1),
        "seconds_per_round": {k: round(v, 4) for k, v in per_round.items()},
        "start_seconds": round(start_seconds, 2),
    }
    if pool is not None:
        for key in ("ship_seconds", "wait_seconds", "merge_seconds"):
            out[f"{key}_per_round"] = round((report[key] - report0.get(key, 0)) / rounds, 4)
        out["weights_bytes"] = report.get("weights_bytes")
    return out


def predict(rows: list[dict]) -> dict:
    """E, c and L from the learner's and the one-worker rows; the throughput model's W*."""
    here = next(r for r in rows if r["backend"] == "learner" and r["torch_threads"] == 1)
    one = next(r for r in rows if r["backend"] == "local" and r["workers"] == 1 and not r["lag"])
    expand = here["seconds_per_round"]["expand"]
    learner = here["seconds_per_round"]["learner"]
    # one worker, no lag: the round as in the learner, plus shipping, gathering and merging
    comm = max(0.0, one["seconds_per_round"]["amplify"] - here["seconds_per_round"]["amplify"])
    units = here["units_per_round"]
    w_star = expand / (learner - comm) if learner > comm else float("inf")
    curve = {w: round(units / max(expand / w + comm, learner), 1) for w in (1, 2, 4, 8, 16, 32, 64)}
    return {
        "expand_seconds_E": round(expand, 4),
        "per_round_overhead_c": round(comm, 4),
        "learner_seconds_L": round(learner, 4),
        "workers_until_learner_bound": round(w_star, 1),
        "predicted_units_per_second": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(RUNS))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray_dir = None
    if not args.no_ray:
        from ida.workers.on_ray import connect

        ray_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
        connect(None, 2, ray_dir)
    settings = [
        (None, 0, 0, 2),
        (None, 0, 0, 1),
        ("local", 1, 0, 1),
        ("local", 2, 0, 1),
        ("local", 2, 1, 1),
    ] + ([] if args.no_ray else [("ray", 2, 0, 1), ("ray", 2, 1, 1)])
    results = {}
    for task in args.tasks:
        rows = []
        for backend, workers, lag, threads in settings:
            torch.set_num_threads(threads)
            row = measure(task, args.rounds, backend, workers, lag)
            print(json.dumps(row), flush=True)
            rows.append(row)
        results[task] = {"rows": rows, "model": predict(rows)}
        print(json.dumps(results[task]["model"]), flush=True)
    if ray_dir is not None:
        import ray

        ray.shutdown()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
