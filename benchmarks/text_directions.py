"""How sure a text run's model is of each fact template's direction: for every relation and
fact template (training and held-out), the mean and least probability its two edges give to the
right direction (subject -> object), over fresh worlds.

    python benchmarks/text_directions.py runs/text_kb-ida [--worlds 40] [--seed 7]

A direction near 0.5 for a relation between two people means the model cannot tell who manages
whom (or whose best friend is whose), so a question about a person with edges both ways is a
coin toss.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from ida.core.runs.run import load_job
from ida.domains.text.kb import FACT_TEMPLATES, HELD_OUT, TRAIN, fact_sentence, sample_world
from ida.domains.text.words import FACT_LEN, vocab


@torch.inference_mode()
def directions(run: str, worlds: int, seed: int) -> dict[tuple[str, str, str], np.ndarray]:
    """(relation, template set, template) -> the right direction's probability per fact."""
    job = load_job(run)
    model = job.answerer.eval()
    rng = np.random.default_rng(seed)
    found: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for _ in range(worlds):
        world = sample_world(rng, job.cfg.people)
        rows, keys, subject_first = [], [], []
        for s, relation, o in world.triples():
            for kind in (TRAIN, HELD_OUT):
                for template in FACT_TEMPLATES[relation][kind]:
                    rows.append(vocab().row(fact_sentence(s, relation, o, template), FACT_LEN))
                    keys.append((relation, kind, template))
                    subject_first.append(template.index("{s}") < template.index("{o}"))
        facts = torch.from_numpy(np.stack(rows))[:, None, :].to(job.device)
        first = model.encode(facts).direction[:, 0].exp().cpu().numpy()  # first -> second
        for key, p, forward in zip(keys, first, subject_first, strict=True):
            found[key].append(float(p if forward else 1 - p))
    return {k: np.array(v) for k, v in found.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="a text run directory")
    p.add_argument("--worlds", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    print(f"{'relation':<13} {'templates':<9} {'mean':>5} {'least':>5}  template")
    for (relation, kind, template), p_right in sorted(directions(**vars(args)).items()):
        print(f"{relation:<13} {kind:<9} {p_right.mean():5.3f} {p_right.min():5.3f}  {template}")


if __name__ == "__main__":
    main()
