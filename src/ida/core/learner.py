"""One trained network: its optimizer, gradient clipping, EMA teacher and checkpoint state.

Every network the framework trains (the model A, the learned overseer H', the adversary and the
approval model, which train as heads next to A) takes its gradient steps through a ``Learner``,
so the training step is written once. The teacher, where there is one, is a slowly moving (EMA)
copy of the model: amplification asks it, so targets do not chase every noisy update.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class Learner:
    """AdamW on ``model`` (and any ``heads`` added), gradients clipped to ``clip``; with ``ema``
    a teacher copy moves towards the model by ``1 - ema`` after every step. A step whose loss
    or gradient is not finite changes nothing (it is counted in ``skipped``): one overflow
    must not turn the model and its teacher into NaN."""

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        ema: float | None = None,
        clip: float = 1.0,
        weight_decay: float = 0.01,
    ):
        self.model, self.ema, self.clip = model, ema, clip
        self.teacher = None if ema is None else copy.deepcopy(model).requires_grad_(False)
        self.heads = nn.ModuleDict()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.steps = 0
        self.skipped = 0  # steps whose loss or gradient was not finite

    def add_head(self, name: str, module: nn.Module) -> nn.Module:
        """Train ``module`` next to the model: same optimizer, same checkpoint."""
        self.heads[name] = module
        self.optimizer.add_param_group({"params": list(module.parameters())})
        return module

    def step(self, loss: torch.Tensor) -> float:
        """One gradient step on ``loss``, then the teacher's move; returns the loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        norm = nn.utils.clip_grad_norm_(params, self.clip)
        self.steps += 1
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            return loss.item()
        self.optimizer.step()
        if self.teacher is not None:
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.teacher.parameters()), list(self.model.parameters()), 1 - self.ema
                )
                for kept, live in zip(self.teacher.buffers(), self.model.buffers(), strict=True):
                    kept.copy_(live)  # batch-norm statistics: the model's, not averaged
        return loss.item()

    def state_dict(self) -> dict:
        """Everything but the model's own weights (which the run saves as its model)."""
        return {
            "teacher": None if self.teacher is None else self.teacher.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "heads": self.heads.state_dict(),
            "steps": self.steps,
            "skipped": self.skipped,
        }

    def load_state_dict(self, state: dict) -> None:
        if self.teacher is not None:
            self.teacher.load_state_dict(state["teacher"])
        self.heads.load_state_dict(state["heads"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = state["steps"]
        self.skipped = state.get("skipped", 0)  # absent from checkpoints before 0.6.2
