"""Distill by imitation: train A to reproduce the amplified system's answers.

Targets come from a replay buffer of amplified rounds; a slowly moving (EMA) copy of A, the
teacher, is what answers subquestions during amplification, so targets do not chase every
noisy update of A.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ida.distill.replay import Experience, ReplayBuffer


class Imitation:
    """Cross-entropy to replayed targets, AdamW, and an EMA teacher copy of the model."""

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        ema: float,
        replay: ReplayBuffer,
        batch_instances: int,
        device: torch.device,
    ):
        self.model, self.replay, self.ema = model, replay, ema
        self.batch_instances, self.device = batch_instances, device
        self.teacher = copy.deepcopy(model).requires_grad_(False)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)

    def add(self, exp: Experience) -> None:
        self.replay.add(exp)

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        """One gradient step on a replayed batch, then move the teacher towards the model."""
        facts, questions, instance, targets = (
            t.to(self.device) for t in self.replay.sample(rng, self.batch_instances).tensors()
        )
        logits = self.model(facts, questions, instance)
        loss = F.cross_entropy(logits, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(
                list(self.teacher.parameters()), list(self.model.parameters()), 1 - self.ema
            )
        return {"loss": loss.item()}

    def state_dict(self) -> dict:
        return {
            "teacher": self.teacher.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "replay": self.replay.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.teacher.load_state_dict(state["teacher"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.load_state_dict(state["replay"])
