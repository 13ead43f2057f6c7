"""Held-out evaluation: the model's greedy answers against the true ones, exact text match,
per number of hops, on fresh instances in the training templates and in the held-out ones."""

from __future__ import annotations

import numpy as np
import torch

from ida.domains.text.data import Rows
from ida.domains.text.model import TextModel


@torch.inference_mode()
def accuracy_by_level(
    model: TextModel, data: Rows, device, batch_instances: int = 64
) -> list[float]:
    """The share of exactly right answers at each level (hops - 1)."""
    model.eval()
    correct = np.zeros(data.levels.shape, dtype=bool)
    for start in range(0, len(data), batch_instances):
        rows = slice(start, start + batch_instances)
        part = data.rows(rows)
        facts, questions, targets, index = part.tensors(device)
        said = model.generate(model.encode(facts), index, questions)
        correct[rows] = (said == targets).all(1).view(part.levels.shape).cpu().numpy()
    levels = int(data.levels.max()) + 1
    return [float(correct[data.levels == lv].mean()) for lv in range(levels)]


def evaluate(model: TextModel, seen: Rows, unseen: Rows, device) -> dict[str, object]:
    """``accuracy`` (the mean over levels, training templates), ``accuracy_by_level``, and the
    same on the held-out templates (``heldout_templates``, ``heldout_templates_by_level``)."""
    by_level = accuracy_by_level(model, seen, device)
    held = accuracy_by_level(model, unseen, device)
    return {
        "accuracy": float(np.mean(by_level)),
        "accuracy_by_level": by_level,
        "heldout_templates": float(np.mean(held)),
        "heldout_templates_by_level": held,
    }
