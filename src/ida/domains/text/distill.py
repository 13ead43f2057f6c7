"""Distill for the text domain: A learns to say the amplified system's answers (cross-entropy
of the target among the instance's entities, which is the cross-entropy of its words and end
token, teacher-forced), on replayed rounds."""

from __future__ import annotations

import numpy as np
import torch

from ida.core.learner import Learner
from ida.core.replay import ReplayBuffer
from ida.domains.text.data import Rows
from ida.domains.text.model import TextModel
from ida.domains.text.words import PAD


def answer_loss(model: TextModel, rows: Rows, device) -> torch.Tensor:
    """Mean cross-entropy of the targets of the questions that have one (a target that names
    no entity of its instance's facts cannot be said, and is skipped)."""
    facts, questions, targets, index = rows.tensors(device)
    has = targets[:, 0] != PAD
    if not has.any():
        return model.embed.weight.sum() * 0.0
    losses, known = model.loss(model.encode(facts), index[has], questions[has], targets[has])
    return losses.sum() / known.sum().clamp(min=1)


class TextDistiller:
    """Trains ``model`` on batches of ``batch_instances`` replayed instances (all their
    questions); amplification asks the EMA teacher."""

    def __init__(
        self,
        model: TextModel,
        lr: float,
        ema: float,
        replay: ReplayBuffer,
        batch_instances: int,
        device: torch.device | str = "cpu",
    ):
        self.model, self.replay = model, replay
        self.batch_instances, self.device = batch_instances, device
        self.learner = Learner(model, lr, ema)

    @property
    def teacher(self) -> TextModel:
        return self.learner.teacher

    def add(self, rows: Rows) -> None:
        self.replay.add(rows)

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        self.model.train()
        rows = self.replay.sample(rng, self.batch_instances)
        return {"loss": self.learner.step(answer_loss(self.model, rows, self.device))}

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "replay": self.replay.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])
        self.replay.load_state_dict(state["replay"])
