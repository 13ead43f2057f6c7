"""How a permutation_powering model with the link walk answers s^k(x), exponent by exponent.

    python benchmarks/walk_probe.py RUN_DIR [--instances 64] [--json FILE]

For the run's reported weights (see ``eval_weights``) and fresh instances, every question
(x, k) of each instance: the number of moves the walk makes most often for that k, the mean
chance it gives k - 1 moves (which end on the fact for s^(k-1)(x), whose y is the answer), the
share of the walk's end on that fact, and the model's accuracy. Also the learned mixtures of
where the walk starts (question position, slot) and of the links it moves along.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from runner import probe_job, probe_main

from ida.core.layers import RELATION_SCALE


def probe(run_dir: str | Path, instances: int = 64, seed: int = 123) -> dict:
    """Per exponent k: moves (most often), chance of k - 1 moves, share on the target, accuracy."""
    job = probe_job(run_dir, "permutation_powering")
    task, model = job.task, job.weights().eval()
    if model.shape.settings.link_walk is None:
        raise SystemExit(f"{run_dir} has no link walk (no [model.link_walk] table)")
    n = task.size
    rng = np.random.default_rng(seed)
    insts = [task.sample_instance(rng) for _ in range(instances)]
    facts = torch.from_numpy(np.stack([inst.facts for inst in insts])).to(job.device)
    pairs = [(i, x, k) for i in range(instances) for k in range(1, n + 1) for x in range(n)]
    questions = torch.tensor([task.question(x, k) for _, x, k in pairs], device=job.device)
    index = torch.tensor([i for i, _, _ in pairs], device=job.device)
    seen = {}
    walker = model.link_walk
    walk = walker.walk

    def recording(match, state, links, groups):  # the walk's move chances and where it ended
        seen["moves"] = walker.moves(state).softmax(-1)
        seen["trail"] = walk(match, state, links, groups)  # [B, F]: the sink is never an end
        return seen["trail"]

    walker.walk = recording  # on this instance only
    try:
        with torch.no_grad():
            predicted = model(facts, questions, index).argmax(-1).cpu().numpy()
    finally:
        del walker.walk
    moves, ends = seen["moves"].cpu().numpy(), seen["trail"].exp().cpu().numpy()
    rows = []
    for k in range(1, n + 1):
        picked, chance, share, right = [], [], [], []
        for b, (i, x, kk) in enumerate(pairs):
            if kk != k:
                continue
            inst = insts[i]
            target = int(task.solve(inst, task.question(x, k - 1))) if k > 1 else x
            fact = int(np.flatnonzero(inst.facts[:, 0] == target + 1)[0])
            picked.append(int(moves[b].argmax()))
            chance.append(moves[b, k - 1] if k - 1 < moves.shape[1] else 0.0)  # beyond T
            share.append(ends[b, fact] / max(ends[b].sum(), 1e-30))
            right.append(predicted[b] == task.solve(inst, task.question(x, k)))
        rows.append(
            {
                "k": k,
                "moves": int(np.bincount(picked).argmax()),
                "chance": round(float(np.mean(chance)), 3),
                "share": round(float(np.mean(share)), 3),
                "accuracy": round(float(np.mean(right)), 3),
            }
        )
    mix = {
        f"link_{name}": (RELATION_SCALE * getattr(walker, name)).softmax(-1).tolist()
        for name in ("start", "kinds")
    }
    mix = {name: [round(v, 3) for v in values] for name, values in mix.items()}
    return {"run": str(run_dir), "instances": instances, "exponents": rows, **mix}


def markdown(result: dict) -> str:
    lines = [
        f"{result['run']} ({result['instances']} instances)",
        f"start (position, slot): {result['link_start']}; links (a -> b): {result['link_kinds']}",
        "",
        "| k | moves (most often) | chance of k - 1 moves | share on s^(k-1)(x) | accuracy |",
        "|---|---|---|---|---|",
    ]
    for r in result["exponents"]:
        lines.append(
            f"| {r['k']} | {r['moves']} | {r['chance']:.2f} | {r['share']:.2f} | "
            f"{r['accuracy']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    probe_main(__doc__, "a permutation_powering run directory with the link walk", probe, markdown)
