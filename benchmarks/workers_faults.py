"""Workers killed during training: a run whose workers are killed every few seconds finishes
with the same final counts as an undisturbed run of the same seed, and the same accuracy.

    OMP_NUM_THREADS=1 python benchmarks/workers_faults.py \
        --json benchmarks/results_workers_faults.json

Runs of the same config and seed: in the learner, and for each backend on 2 workers
undisturbed and on 2 workers one of which is killed (SIGKILL) every ``--every`` seconds by a
thread of this script. Each run's summary (accuracy, costs) and the pool's counters (workers
lost, parts redone) are compared. (A game's value targets depend, to the last bits, on how its
positions were batched for the net, and over many steps of training that can tip a search; so
runs on workers are compared with each other, and with the learner's where targets are exact.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console

from ida.core.registry import domain_of
from ida.core.runs.run import train
from ida.workers import WorkerSettings, start_workers

COSTS = ("games", "positions", "simulations", "net_evals", "simulator_steps")


def run(cfg, folder: Path, backend: str | None, every: float | None) -> dict:
    """Train ``cfg`` in ``folder``; with ``backend``, on 2 workers (killed every ``every`` s)."""
    pools, kills, done = [], [], threading.Event()

    def workers(job):
        if backend is None:
            return None
        pool = start_workers(WorkerSettings(workers=2, backend=backend), job)
        pools.append(pool)
        return pool

    def killer() -> None:
        chooser = random.Random(0)
        while not done.wait(every):
            if pools:
                try:
                    os.kill(chooser.choice(pools[0].pids()), signal.SIGKILL)
                    kills.append(time.time())
                except Exception:  # a worker gone or restarting: the next tick
                    pass

    thread = threading.Thread(target=killer, daemon=True) if every else None
    if thread:
        thread.start()
    started = time.perf_counter()
    try:
        summary = train(cfg, folder, console=Console(stderr=True, quiet=True), workers=workers)
    finally:
        done.set()
    records = [json.loads(line) for line in (folder / "metrics.jsonl").open()]
    return {
        "backend": backend or "learner",
        "kill_every_seconds": every,
        "kills": len(kills),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "pool": records[-1].get("workers", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="tic_tac_toe")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=float, default=3.0)
    parser.add_argument("--backends", nargs="+", default=["local"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    domain = domain_of(args.task)
    cfg = domain.configure(args.task, {"steps": args.steps, "eval_every": args.steps // 2})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plan = [(None, None)] + [(b, e) for b in args.backends for e in (None, args.every)]
        for i, (backend, every) in enumerate(plan):
            row = run(cfg, Path(tmp) / str(i), backend, every)
            print(json.dumps(row), flush=True)
            rows.append(row)

    def same(a: dict, b: dict) -> bool:  # but wall-clock figures
        timeless = [k for k in a.keys() | b.keys() if "second" not in k]
        return all(a.get(k) == b.get(k) for k in timeless)

    for row in rows[1:]:
        calm = next(r for r in rows if r["backend"] == row["backend"] and not r["kills"])
        row["same_costs_as_undisturbed"] = all(
            row["summary"].get(k) == calm["summary"].get(k) for k in COSTS
        )
        row["same_summary_as_undisturbed"] = same(row["summary"], calm["summary"])
        row["same_summary_as_learner"] = same(row["summary"], rows[0]["summary"])
    result = {"task": args.task, "steps": args.steps, "runs": rows}
    print(
        json.dumps([(r["backend"], r["kills"], r.get("same_summary_as_undisturbed")) for r in rows])
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
