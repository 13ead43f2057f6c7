"""What every distiller shares: a replay buffer, AdamW with gradient clipping, and the EMA teacher.

Subclasses say only what loss a replayed batch gives (``loss``). The teacher, a slowly moving
(EMA) copy of A, is what answers subquestions during amplification, so targets do not chase
every noisy update of A.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn

from ida.distill.replay import Batch, Experience, ReplayBuffer
from ida.models.qa import QAModel


class Distiller(ABC):
    """Trains ``model`` on replayed experience; ``heads`` are extra trained modules (a value
    baseline, say) that live in the same optimizer and checkpoint."""

    def __init__(
        self,
        model: QAModel,
        lr: float,
        ema: float,
        replay: ReplayBuffer,
        batch_instances: int,
        device: torch.device,
    ):
        self.model, self.replay, self.ema = model, replay, ema
        self.batch_instances, self.device = batch_instances, device
        self.teacher = copy.deepcopy(model).requires_grad_(False)
        self.heads = nn.ModuleDict()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        self.steps = 0

    def add_head(self, name: str, module: nn.Module) -> nn.Module:
        """Register a trained module next to the model (optimized and checkpointed with it)."""
        module = module.to(self.device)
        self.heads[name] = module
        self.optimizer.add_param_group({"params": list(module.parameters())})
        return module

    def add(self, exp: Experience) -> None:
        self.replay.add(exp)

    @abstractmethod
    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to minimize on a replayed batch, and metrics to log."""

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        """One gradient step on a replayed batch, then move the teacher towards the model."""
        batch = self.replay.sample(rng, self.batch_instances).batch(self.device)
        loss, metrics = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, 1.0)
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(
                list(self.teacher.parameters()), list(self.model.parameters()), 1 - self.ema
            )
        self.steps += 1
        return {"loss": loss.item(), **metrics}

    def state_dict(self) -> dict:
        return {
            "teacher": self.teacher.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "replay": self.replay.state_dict(),
            "heads": self.heads.state_dict(),
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.teacher.load_state_dict(state["teacher"])
        self.heads.load_state_dict(state.get("heads", {}))
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.load_state_dict(state["replay"])
        self.steps = state.get("steps", 0)
