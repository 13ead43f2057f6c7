"""Held-out evaluation against ground truth, per difficulty level."""

from __future__ import annotations

import numpy as np
import torch

from ida.domains.qa.adversary import Adversary, spearman
from ida.domains.qa.experience import Experience
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.tasks.base import Task


def heldout_set(
    task: Task, rng: np.random.Generator, per_level: int, per_instance: int = 8
) -> Experience:
    """``per_level`` questions at every level with true answers, at most ``per_instance`` about
    one instance (the most up to it that divides ``per_level``)."""
    per_instance = max(d for d in range(1, min(per_instance, per_level) + 1) if per_level % d == 0)
    n = per_level // per_instance
    insts = [task.sample_instance(rng) for _ in range(n * task.num_levels)]
    levels = np.repeat(np.arange(task.num_levels), n)[:, None].repeat(per_instance, axis=1)
    questions = [
        [task.sample_question(rng, inst, int(lv)) for lv in row]
        for inst, row in zip(insts, levels, strict=True)
    ]
    answers = [
        [task.solve(inst, q) for q in row] for inst, row in zip(insts, questions, strict=True)
    ]
    return Experience(
        facts=np.stack([inst.facts for inst in insts]),
        questions=np.asarray(questions, dtype=np.int64),
        targets=np.asarray(answers, dtype=np.int64),
        levels=levels,
    )


@torch.inference_mode()
def evaluate(
    model: QAModel,
    data: Experience,
    device: torch.device,
    batch_instances: int = 256,
    adversary: Adversary | None = None,
) -> dict[str, object]:
    """``accuracy`` (the mean over levels: every difficulty counts alike), ``accuracy_by_level``.

    With an ``adversary``, also how well it ranks the model's answers by their true loss (the
    cross-entropy at the true answer): ``adversary_spearman`` is the Spearman correlation of
    -Adv with it, ``entropy_spearman`` that of the model's own uncertainty (its entropy)."""
    correct = np.zeros(data.targets.shape, dtype=bool)
    loss, entropy, adv = (np.zeros(data.targets.shape) for _ in range(3))
    for start in range(0, len(data), batch_instances):
        rows = slice(start, start + batch_instances)
        part = data.rows(rows)
        b = part.batch(device)
        logits = model(b.facts, b.questions, b.instance)
        answers = logits.argmax(-1)
        correct[rows] = (answers == b.targets).view(part.targets.shape).cpu().numpy()
        if adversary is not None:
            logp = torch.log_softmax(logits.float(), -1)
            shape = part.targets.shape
            loss[rows] = -logp.gather(1, b.targets[:, None]).view(shape).cpu().numpy()
            entropy[rows] = -(logp.exp() * logp).sum(-1).view(shape).cpu().numpy()
            adv[rows] = adversary.score(b, answers).view(shape).cpu().numpy()
    levels = int(data.levels.max()) + 1
    by_level = [float(correct[data.levels == lv].mean()) for lv in range(levels)]
    result: dict[str, object] = {
        "accuracy": float(np.mean(by_level)),
        "accuracy_by_level": by_level,
    }
    if adversary is not None:
        result["adversary_spearman"] = spearman(-adv.ravel(), loss.ravel())
        result["entropy_spearman"] = spearman(entropy.ravel(), loss.ravel())
    return result
