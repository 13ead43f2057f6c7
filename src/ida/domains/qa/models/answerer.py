"""The model A as the engine's batch function: (instance slot, question) items -> answers."""

from __future__ import annotations

import numpy as np
import torch

from ida.domains.qa.models.transformer import QAModel


class BatchedAnswerer:
    """A batch function for the engine: (instance slot, question) items -> answer tokens.

    Encodes the instances' facts once, on construction, and reuses that for every question."""

    def __init__(self, model: QAModel, facts: torch.Tensor):
        self.model = model
        with torch.inference_mode():
            self.memory = model.encode(facts)
        self.device = facts.device

    def logits(self, items: list[tuple]) -> torch.Tensor:
        """Answer logits [len(items), answer_size] for (instance slot, question, ...) items."""
        slots, questions = item_tensors(items, self.device)
        with torch.inference_mode():
            return self.model.answer_logits(self.model.select(self.memory, slots), questions)

    def __call__(self, items: list[tuple[int, tuple[int, ...]]]) -> list[int]:
        return self.logits(items).argmax(-1).tolist()


def item_tensors(items: list[tuple], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Engine items (instance slot, question, ...) as tensors: slots [B] and questions [B, L]."""
    # through numpy: a few times faster than torch.tensor on lists of tuples
    slots = torch.from_numpy(np.array([item[0] for item in items], dtype=np.int64))
    questions = torch.from_numpy(np.array([item[1] for item in items], dtype=np.int64))
    return slots.to(device), questions.to(device)
