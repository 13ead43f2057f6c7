"""Held-out evaluation against ground truth, per difficulty level."""

from __future__ import annotations

import numpy as np
import torch

from ida.distill.replay import Experience
from ida.models.qa import QAModel
from ida.tasks.base import Task


def heldout_set(
    task: Task, rng: np.random.Generator, per_level: int, per_instance: int = 8
) -> Experience:
    """``per_level`` questions at every level, ``per_instance`` per instance, with true answers."""
    per_instance = min(per_instance, per_level)
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
    model: QAModel, data: Experience, device: torch.device, batch_instances: int = 256
) -> dict[str, object]:
    """``accuracy`` (the mean over levels: every difficulty counts alike), ``accuracy_by_level``."""
    correct = np.zeros(data.targets.shape, dtype=bool)
    for start in range(0, len(data), batch_instances):
        part = data.rows(slice(start, start + batch_instances))
        b = part.batch(device)
        hit = model(b.facts, b.questions, b.instance).argmax(-1) == b.targets
        correct[start : start + batch_instances] = hit.view(part.targets.shape).cpu().numpy()
    levels = int(data.levels.max()) + 1
    by_level = [float(correct[data.levels == lv].mean()) for lv in range(levels)]
    return {"accuracy": float(np.mean(by_level)), "accuracy_by_level": by_level}
