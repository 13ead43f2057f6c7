"""Distill by imitation: train A to reproduce the amplified system's answers (cross-entropy to
the replayed targets)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ida.adversary import Adversary
from ida.distill.base import Distiller
from ida.distill.replay import Batch


def imitation_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy to the demonstrated answers, over the questions an overseer answered."""
    judged = batch.judged
    if not judged.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[judged], batch.targets[judged])


class Imitation(Distiller):
    """A <- the amplified system's answers, by maximum likelihood. With an ``adversary``, it is
    trained on the same batch to predict where the model's answers are wrong."""

    def __init__(self, *args, adversary: Adversary | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.adversary = self.add_head("adversary", adversary) if adversary is not None else None

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        logits = self.model(batch.facts, batch.questions, batch.instance)
        loss = imitation_loss(logits, batch)
        if self.adversary is None:
            return loss, {}
        adversary_loss = self.adversary.loss(batch, logits.detach().argmax(-1))
        return loss + adversary_loss, {"adversary_loss": adversary_loss.item()}
