"""Which held-out question templates a text run's model reads: accuracy per held-out frame
and noun phrase, each alone among training templates, over fresh worlds whose facts are told in
the training templates (``--facts held_out``: in the held-out ones).

    python benchmarks/text_templates.py runs/text_kb-ida [--worlds 40] [--hops 2 3 4]

Questions are drawn from the training and held-out templates together; those with exactly one
held-out template count for it, those with none give the training templates' row. A held-out
template far below that row names a construction the training templates never show.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from ida.core.runs.run import load_job
from ida.domains.text.data import fact_rows, question_rows, sample_query, trim
from ida.domains.text.kb import HELD_OUT, TRAIN, sample_world, tell
from ida.domains.text.questions import FRAMES, PHRASES, Template, render
from ida.domains.text.words import vocab

MIXED = "mixed"  # the training and held-out templates together, for this benchmark only
FRAMES[MIXED] = FRAMES[TRAIN] + FRAMES[HELD_OUT]
PHRASES[MIXED] = PHRASES[TRAIN] + PHRASES[HELD_OUT]


@torch.inference_mode()
def by_template(
    run: str, worlds: int, hops: list[int], per_world: int, facts: str, seed: int
) -> dict[Template | None, list[bool]]:
    """held-out template (None: none) -> whether each question with it alone was right."""
    job = load_job(run)
    model = job.answerer.eval()
    rng = np.random.default_rng(seed)
    held = set(FRAMES[HELD_OUT] + PHRASES[HELD_OUT])
    found: dict[Template | None, list[bool]] = defaultdict(list)
    for _ in range(worlds):
        world = sample_world(rng, job.cfg.people)
        told = torch.from_numpy(fact_rows(tell(world, rng, facts), job.cfg.people))[None]
        memory = model.encode(told.to(job.device))
        queries = [sample_query(world, h, rng) for h in hops for _ in range(per_world)]
        used: list[list[Template]] = [[] for _ in queries]
        texts = [render(q, MIXED, rng, u) for q, u in zip(queries, used, strict=True)]
        rows = trim(torch.from_numpy(question_rows(texts)).to(job.device))
        slots = torch.zeros(len(texts), dtype=torch.long, device=job.device)
        said = model.generate(memory, slots, rows).cpu().numpy()
        for q, u, row in zip(queries, used, said, strict=True):
            unseen = [t for t in u if t in held]
            if len(unseen) <= 1:
                right = vocab().decode(row) == world.follow(q.entity, q.relations)
                found[unseen[0] if unseen else None].append(right)
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="a text run directory")
    p.add_argument("--worlds", type=int, default=40)
    p.add_argument("--hops", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--per-world", type=int, default=16, help="questions per world and hop")
    p.add_argument("--facts", choices=[TRAIN, HELD_OUT], default=TRAIN)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    found = by_template(**vars(args))
    print(f"{'relation':<13} {'right':>6} {'asked':>6}  held-out template")
    base = found.pop(None, [])
    print(f"{'':<13} {np.mean(base):6.3f} {len(base):6d}  (none: training templates only)")
    for t, right in sorted(found.items(), key=lambda kv: np.mean(kv[1])):
        print(f"{t.relation:<13} {np.mean(right):6.3f} {len(right):6d}  {t.text}")


if __name__ == "__main__":
    main()
