"""A round of questions with training targets, stored instance-major.

``questions_per_instance`` questions per instance, so a training batch encodes each sampled
instance's facts once for all of its questions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ida.core.replay import Arrays

UNJUDGED = -1  # the target of a question no overseer looked at (its scores are NaN)


@dataclass
class Batch:
    """A training batch as tensors: question b is about instance ``instance[b]``."""

    facts: torch.Tensor  # [I, F, fact_len]
    questions: torch.Tensor  # [B, question_len]
    instance: torch.Tensor  # [B]
    targets: torch.Tensor  # [B], UNJUDGED where no overseer answered
    scores: torch.Tensor | None  # [B, answer_size] approval of every answer, NaN rows unjudged

    @property
    def judged(self) -> torch.Tensor:
        return self.targets != UNJUDGED


@dataclass
class Experience(Arrays):
    """A round of targets: facts [I, F, L], questions [I, Q, qlen], targets and levels [I, Q],
    and optionally ``scores`` [I, Q, answer_size]: the overseer's approval of every answer."""

    facts: np.ndarray
    questions: np.ndarray
    targets: np.ndarray
    levels: np.ndarray
    scores: np.ndarray | None = None

    def batch(self, device: torch.device | str = "cpu") -> Batch:
        n, q = self.targets.shape
        scores = None
        if self.scores is not None:
            scores = torch.from_numpy(self.scores.reshape(n * q, -1)).to(device)
        return Batch(
            facts=torch.from_numpy(self.facts).to(device),
            questions=torch.from_numpy(self.questions.reshape(n * q, -1)).to(device),
            instance=torch.arange(n, device=device).repeat_interleave(q),
            targets=torch.from_numpy(self.targets.reshape(-1)).to(device),
            scores=scores,
        )
