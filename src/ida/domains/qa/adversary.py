"""The adversary Adv(Q, A): how good the model's answer A to question Q is.

Sign: Adv predicts the *negative* loss, as the seed's author has it. The loss is the 0-1 loss of
A against the amplified overseer's answer, so Adv(Q, A) = -P(A is wrong), in [-1, 0]; higher
means a better answer, and the most suspect answer has the lowest score. One forward pass
scores every answer token to Q (``Adversary.net`` is a ``QAModel`` whose logit for answer a is
the log-odds that a is right); Adv(Q, A) reads the entry of the model's answer A.

It is trained on the nodes where H's answer is known: for each, whether the current model's
answer agrees with it. ``spearman`` measures it on held-out nodes against the true loss.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ida.domains.qa.experience import Batch
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.models.transformer import ModelShape, QAModel


def adv(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """Adv(Q, A) = sigmoid(logit of A) - 1, from the adversary's logits [B, answer_size]."""
    return torch.sigmoid(logits.gather(1, answers[:, None]).squeeze(1)) - 1


class Adversary(nn.Module):
    """Adv(Q, A) = -P(A is wrong): the predicted negative 0-1 loss of answer A to Q."""

    def __init__(self, shape: ModelShape):
        super().__init__()
        self.net = QAModel(shape)

    def loss(self, batch: Batch, model_logits: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of P(right) for the model's answers (the argmax of A's
        ``model_logits`` [B, answer_size]), on the judged questions."""
        judged, answers = batch.judged, model_logits.argmax(-1)
        if not judged.any():
            return self.net.head.bias.sum() * 0.0
        logits = self.net(batch.facts, batch.questions, batch.instance)
        right = (answers == batch.targets).float()
        picked = logits.gather(1, answers[:, None]).squeeze(1)
        return F.binary_cross_entropy_with_logits(picked[judged], right[judged])

    @torch.no_grad()
    def score(self, batch: Batch, answers: torch.Tensor) -> torch.Tensor:
        """Adv(Q, A) for every question of ``batch`` and its answer in ``answers`` [B]."""
        return adv(self.net(batch.facts, batch.questions, batch.instance), answers)


class AdversaryScorer:
    """Engine batch function: (instance slot, question, answer) items -> Adv(Q, A)."""

    def __init__(self, adversary: Adversary, facts: torch.Tensor):
        self.answerer = BatchedAnswerer(adversary.net, facts)

    def __call__(self, items: list[tuple]) -> list[float]:
        logits = self.answerer.logits(items)
        answers = torch.tensor([item[2] for item in items], device=logits.device)
        return adv(logits, answers).tolist()


class UncertaintyScorer:
    """Engine batch function: the model's own confidence, -entropy of its answer distribution
    (same sign convention as Adv: lower is more suspect)."""

    def __init__(self, answerer: BatchedAnswerer):
        self.answerer = answerer

    def __call__(self, items: list[tuple]) -> list[float]:
        logp = torch.log_softmax(self.answerer.logits(items).float(), -1)
        return (logp.exp() * logp).sum(-1).tolist()


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (ties get their average rank); 0 where a side is constant."""

    def ranks(a: np.ndarray) -> np.ndarray:
        order = np.argsort(a, kind="stable")
        r = np.empty(len(a))
        r[order] = np.arange(len(a))
        _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=r)
        return sums[inverse] / counts[inverse]

    rx, ry = ranks(np.asarray(x, float)), ranks(np.asarray(y, float))
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])
