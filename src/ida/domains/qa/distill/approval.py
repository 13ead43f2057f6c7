"""A learned approval (reward) model: predicts the amplified overseer's approval of every answer.

It is distilled from the scores the overseer gave (binary cross-entropy against each answer's
approval, on the questions an overseer judged) and then answers "how good is answer X to Y?"
for any question without calling H. One forward pass scores all answers to a question.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ida.domains.qa.experience import Batch
from ida.domains.qa.models.transformer import ModelShape, QAModel


class ApprovalModel(nn.Module):
    """R(facts, question) -> the predicted approval in [0, 1] of every answer token."""

    def __init__(self, shape: ModelShape):
        super().__init__()
        self.net = QAModel(shape)

    def logits(self, batch: Batch) -> torch.Tensor:
        return self.net(batch.facts, batch.questions, batch.instance)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Cross-entropy to the overseer's scores of every answer, on the judged questions."""
        judged = batch.judged
        if not judged.any():
            return self.net.head.bias.sum() * 0.0
        return F.binary_cross_entropy_with_logits(self.logits(batch)[judged], batch.scores[judged])

    @torch.no_grad()
    def table(self, batch: Batch) -> torch.Tensor:
        """The predicted approval of every answer [B, answer_size], for every question."""
        return torch.sigmoid(self.logits(batch))
