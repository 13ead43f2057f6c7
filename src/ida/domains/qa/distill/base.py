"""What every distiller of A shares: a replay buffer of experience and one ``Learner``
(optimizer, clipping, EMA teacher). Subclasses say only what loss a replayed batch gives.

Other networks can learn on the same batches, in the same optimizer and checkpoint: a
``Critic`` (the adversary, say) is trained on each batch next to A, from A's logits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ida.core.learner import Learner
from ida.core.replay import ReplayBuffer
from ida.domains.qa.experience import Batch, Experience
from ida.domains.qa.models.transformer import QAModel


class Critic(Protocol):
    """A network that learns from A's answers on the distiller's batches (the adversary)."""

    def loss(self, batch: Batch, logits: torch.Tensor) -> torch.Tensor: ...


class Distiller(ABC):
    """Trains ``model`` on replayed experience; ``critics`` train on the same batches."""

    def __init__(
        self,
        model: QAModel,
        lr: float,
        ema: float,
        replay: ReplayBuffer,
        batch_instances: int,
        device: torch.device,
        critics: dict[str, nn.Module] | None = None,
    ):
        self.model, self.replay = model, replay
        self.batch_instances, self.device = batch_instances, device
        self.learner = Learner(model, lr, ema)
        self.critics = {
            name: self.add_head(name, module) for name, module in (critics or {}).items()
        }

    @property
    def teacher(self) -> QAModel:
        """The EMA copy of A that amplification asks."""
        return self.learner.teacher

    @property
    def steps(self) -> int:
        return self.learner.steps

    def add_head(self, name: str, module: nn.Module) -> nn.Module:
        """Register a trained module next to the model (optimized and checkpointed with it)."""
        return self.learner.add_head(name, module.to(self.device))

    def add(self, exp: Experience) -> None:
        self.replay.add(exp)

    @abstractmethod
    def loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The loss to minimize on a replayed batch, A's logits on it, and metrics to log."""

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        """One gradient step on a replayed batch (critics included), then the teacher's move."""
        batch = self.replay.sample(rng, self.batch_instances).batch(self.device)
        loss, logits, metrics = self.loss(batch)
        for name, critic in self.critics.items():
            critic_loss = critic.loss(batch, logits.detach())
            metrics[f"{name}_loss"] = critic_loss.item()
            loss = loss + critic_loss
        return {"loss": self.learner.step(loss), **metrics}

    def state_dict(self) -> dict:
        return {**self.learner.state_dict(), "replay": self.replay.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state)
        self.replay.load_state_dict(state["replay"])
