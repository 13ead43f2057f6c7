"""Distill by imitation: train A to reproduce the amplified system's answers (cross-entropy to
the replayed targets)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ida.domains.qa.distill.base import Distiller
from ida.domains.qa.experience import Batch


def imitation_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy to the demonstrated answers, over the questions an overseer answered."""
    judged = batch.judged
    if not judged.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[judged], batch.targets[judged])


class Imitation(Distiller):
    """A <- the amplified system's answers, by maximum likelihood."""

    def loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        logits = self.model(batch.facts, batch.questions, batch.instance)
        return imitation_loss(logits, batch), logits, {}
